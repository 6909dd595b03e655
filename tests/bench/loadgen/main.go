// Command loadgen sends GET requests to URLs from several connections for a
// while, as a second process loading vmmon-api during a benchmark; it prints
// the number of requests and their status codes.
//
//	go run ./tests/bench/loadgen -c 4 -d 20s http://127.0.0.1:8780/v1/instances ...
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	conns := flag.Int("c", 4, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "how long to send requests (bounded)")
	token := flag.String("token", "", "X-Auth-Token to send")
	flag.Parse()
	urls := flag.Args()
	if len(urls) == 0 || *dur > 10*time.Minute {
		fmt.Fprintln(os.Stderr, "usage: loadgen [-c N] [-d DURATION<=10m] [-token T] URL...")
		os.Exit(2)
	}
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		wg    sync.WaitGroup
	)
	deadline := time.Now().Add(*dur)
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for n := i; time.Now().Before(deadline); n++ {
				req, _ := http.NewRequest("GET", urls[n%len(urls)], nil)
				if *token != "" {
					req.Header.Set("X-Auth-Token", *token)
				}
				resp, err := client.Do(req)
				code := 0
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
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
	fmt.Printf("%d requests, status codes %v\n", total, codes)
}
