// Command loadgen sends GET requests to URLs from several connections, as a
// second process loading vmmon-api during a benchmark. With -rate it offers
// that many requests per second in all, on a fixed schedule, whatever the
// answers' latency (an open loop); without, each connection sends its next
// request as soon as the previous one is answered (a closed loop, which
// saturates the server). It stops after -d, or at SIGTERM or SIGINT, and
// prints what it sent:
//
//	requests=1234 seconds=10.01 rate=123.3 codes=map[200:1234]
//
//	go run ./tests/bench/loadgen -c 4 -rate 100 -d 20s http://127.0.0.1:8780/v1/instances ...
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	conns := flag.Int("c", 4, "concurrent connections")
	rate := flag.Float64("rate", 0, "requests per second in all (0: as fast as the server answers)")
	dur := flag.Duration("d", 10*time.Second, "how long to send requests (at most 10m)")
	token := flag.String("token", "", "X-Auth-Token to send")
	flag.Parse()
	urls := flag.Args()
	if len(urls) == 0 || *dur > 10*time.Minute || *conns < 1 || *rate < 0 {
		fmt.Fprintln(os.Stderr, "usage: loadgen [-c N>=1] [-rate R>=0] [-d DURATION<=10m] [-token T] URL...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		wg    sync.WaitGroup
	)
	started := time.Now()
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			// Each connection's share of the schedule, staggered.
			var every time.Duration
			if *rate > 0 {
				every = time.Duration(float64(*conns) / *rate * float64(time.Second))
			}
			next := started.Add(time.Duration(i) * every / time.Duration(*conns))
			for n := i; ; n++ {
				if every > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Until(next)):
					}
					next = next.Add(every)
				} else if ctx.Err() != nil {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", urls[n%len(urls)], nil)
				if *token != "" {
					req.Header.Set("X-Auth-Token", *token)
				}
				resp, err := client.Do(req)
				code := 0
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				} else if ctx.Err() != nil {
					return // stopped mid-request: not counted
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	total := 0
	for _, n := range codes {
		total += n
	}
	secs := time.Since(started).Seconds()
	fmt.Printf("requests=%d seconds=%.2f rate=%.1f codes=%v\n", total, secs, float64(total)/secs, codes)
}
