/*
Package stream reads an instance's live samples (vmmon's Server-Sent Events)
as they arrive.

Example:

	s, err := stream.Open(ctx, client, instanceID)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for {
		smp, err := s.Next()
		if errors.Is(err, io.EOF) {
			break // the stream ended (its lifetime, or the token's): open it again
		}
		if err != nil {
			panic(err) // stream.ErrDropped: the client did not keep up
		}
		fmt.Println(smp.Time, smp.State, smp.Metrics)
	}
*/
package stream
