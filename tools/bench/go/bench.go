// bench.go - the Go twin of tools/bench/bench.c: the same eight workloads
// (W1-W8) on plain goroutines, channels and sync.WaitGroup, with the same
// sizes, options (-w NAME, -n SCALE) and output format:
//
//	W1_pingpong ns_per_op=<float> ops=<N>
//
// Each workload checks its own result and the program exits with status 1
// and a message on stderr when one is wrong. run.sh runs it with
// GOMAXPROCS=2 beside the C program and compares the two.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var scale = 1.0

// scaled returns n multiplied by the -n scale, at least 1.
func scaled(n int64) int64 {
	v := int64(float64(n) * scale)
	if v < 1 {
		v = 1
	}
	return v
}

func fail(name, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "bench: %s: %s\n", name, fmt.Sprintf(format, args...))
	os.Exit(1)
}

func report(name string, d time.Duration, ops int64) {
	fmt.Printf("%s ns_per_op=%.1f ops=%d\n", name, float64(d.Nanoseconds())/float64(ops), ops)
}

// W1: two goroutines pass a value back and forth over two unbuffered
// channels; one op is one round trip.
func w1Pingpong(name string) {
	n := scaled(200000)
	ping := make(chan int64)
	pong := make(chan int64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := range ping {
			pong <- v + 1
		}
	}()
	start := time.Now()
	for i := int64(0); i < n; i++ {
		ping <- i
		if v := <-pong; v != i+1 {
			fail(name, "round trip %d returned %d", i, v)
		}
	}
	d := time.Since(start)
	close(ping)
	wg.Wait()
	report(name, d, n)
}

// spsc: one producer sends 0..n-1 on a channel of capacity cap and closes
// it; the main goroutine consumes and checks count and sum.
func spsc(name string, n int64, capacity int) {
	c := make(chan int64, capacity)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(0); i < n; i++ {
			c <- i
		}
		close(c)
	}()
	var count, sum int64
	for v := range c {
		count++
		sum += v
	}
	d := time.Since(start)
	wg.Wait()
	if count != n || sum != n*(n-1)/2 {
		fail(name, "got count %d sum %d, want %d and %d", count, sum, n, n*(n-1)/2)
	}
	report(name, d, n)
}

// W2: spsc on a buffered channel of capacity 1024.
func w2SpscBuffered(name string) { spsc(name, scaled(5000000), 1024) }

// W3: 4 producers and 4 consumers on one channel of capacity 1024; the
// channel is closed once every producer is done.
func w3MpmcBuffered(name string) {
	const nprod, ncons = 4, 4
	per := scaled(4000000) / nprod
	if per < 1 {
		per = 1
	}
	n := per * nprod
	c := make(chan int64, 1024)
	var counts, sums [ncons]int64
	var wgp, wgc sync.WaitGroup
	start := time.Now()
	for k := 0; k < ncons; k++ {
		wgc.Add(1)
		go func(k int) {
			defer wgc.Done()
			var count, sum int64
			for v := range c {
				count++
				sum += v
			}
			counts[k], sums[k] = count, sum
		}(k)
	}
	for p := int64(0); p < nprod; p++ {
		wgp.Add(1)
		go func(p int64) {
			defer wgp.Done()
			for i := p * per; i < (p+1)*per; i++ {
				c <- i
			}
		}(p)
	}
	wgp.Wait()
	close(c)
	wgc.Wait()
	d := time.Since(start)
	var count, sum int64
	for k := 0; k < ncons; k++ {
		count += counts[k]
		sum += sums[k]
	}
	if count != n || sum != n*(n-1)/2 {
		fail(name, "got count %d sum %d, want %d and %d", count, sum, n, n*(n-1)/2)
	}
	report(name, d, n)
}

// W4: spsc on an unbuffered channel.
func w4SpscUnbuffered(name string) { spsc(name, scaled(1000000), 0) }

// W5: 8 producers, each on its own channel of capacity 64, closed when
// done; one consumer selects over the 8 and drops a channel (sets it to
// nil) once it reports closed.
func w5SelectFanin(name string) {
	const nprod = 8
	per := scaled(250000)
	n := per * nprod
	var cs [nprod]chan int64
	var wg sync.WaitGroup
	start := time.Now()
	for p := int64(0); p < nprod; p++ {
		cs[p] = make(chan int64, 64)
		wg.Add(1)
		go func(p int64, c chan<- int64) {
			defer wg.Done()
			for i := p * per; i < (p+1)*per; i++ {
				c <- i
			}
			close(c)
		}(p, cs[p])
	}
	var count, sum int64
	c0, c1, c2, c3, c4, c5, c6, c7 := cs[0], cs[1], cs[2], cs[3], cs[4], cs[5], cs[6], cs[7]
	for open := nprod; open > 0; {
		var v int64
		var ok bool
		select {
		case v, ok = <-c0:
			if !ok {
				c0 = nil
			}
		case v, ok = <-c1:
			if !ok {
				c1 = nil
			}
		case v, ok = <-c2:
			if !ok {
				c2 = nil
			}
		case v, ok = <-c3:
			if !ok {
				c3 = nil
			}
		case v, ok = <-c4:
			if !ok {
				c4 = nil
			}
		case v, ok = <-c5:
			if !ok {
				c5 = nil
			}
		case v, ok = <-c6:
			if !ok {
				c6 = nil
			}
		case v, ok = <-c7:
			if !ok {
				c7 = nil
			}
		}
		if !ok {
			open--
			continue
		}
		count++
		sum += v
	}
	d := time.Since(start)
	wg.Wait()
	if count != n || sum != n*(n-1)/2 {
		fail(name, "got count %d sum %d, want %d and %d", count, sum, n, n*(n-1)/2)
	}
	report(name, d, n)
}

// W6: n goroutines, each counting itself and calling wg.Done; the main
// goroutine adds one per spawn and waits.
func w6Spawn(name string) {
	n := scaled(100000)
	var wg sync.WaitGroup
	var ran int64
	start := time.Now()
	for i := int64(0); i < n; i++ {
		wg.Add(1)
		go func() {
			atomic.AddInt64(&ran, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if got := atomic.LoadInt64(&ran); got != n {
		fail(name, "%d goroutines ran, want %d", got, n)
	}
	report(name, d, n)
}

// W7: counter -> squarer -> summer on unbuffered channels (gopl 8.4.2).
// Squares and sums wrap around as uint64.
func w7Pipeline(name string) {
	n := scaled(1000000)
	naturals := make(chan int64)
	squares := make(chan int64)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := int64(0); i < n; i++ {
			naturals <- i
		}
		close(naturals)
	}()
	go func() {
		defer wg.Done()
		for x := range naturals {
			squares <- int64(uint64(x) * uint64(x))
		}
		close(squares)
	}()
	var count int64
	var sum uint64
	for v := range squares {
		count++
		sum += uint64(v)
	}
	d := time.Since(start)
	wg.Wait()
	var want uint64
	for i := uint64(0); i < uint64(n); i++ {
		want += i * i
	}
	if count != n || sum != want {
		fail(name, "got count %d sum %d, want %d and %d", count, sum, n, want)
	}
	report(name, d, n)
}

// W8: per round, 1000 goroutines block receiving on one channel, then one
// close wakes them all and each calls wg.Done. Timed from just before the
// close until wg.Wait returns; one op is one waiter woken, so ns_per_op is
// the summed time over (1000 * rounds). Before the close the main
// goroutine waits until every waiter has started and then sleeps 10 ms
// (untimed) so that they are all blocked.
func w8CloseBroadcast(name string) {
	const waiters = 1000
	rounds := scaled(20)
	var bad int64
	var total time.Duration
	for r := int64(0); r < rounds; r++ {
		c := make(chan int64)
		var ready, done sync.WaitGroup
		ready.Add(waiters)
		done.Add(waiters)
		for i := 0; i < waiters; i++ {
			go func() {
				ready.Done()
				if v, ok := <-c; ok || v != 0 {
					atomic.AddInt64(&bad, 1)
				}
				done.Done()
			}()
		}
		ready.Wait()
		time.Sleep(10 * time.Millisecond)
		start := time.Now()
		close(c)
		done.Wait()
		total += time.Since(start)
	}
	if bad != 0 {
		fail(name, "%d waiters did not see the channel closed", bad)
	}
	report(name, total, waiters*rounds)
}

var workloads = []struct {
	name string
	run  func(name string)
}{
	{"W1_pingpong", w1Pingpong},
	{"W2_spsc_buffered", w2SpscBuffered},
	{"W3_mpmc_buffered", w3MpmcBuffered},
	{"W4_spsc_unbuffered", w4SpscUnbuffered},
	{"W5_select_fanin", w5SelectFanin},
	{"W6_spawn", w6Spawn},
	{"W7_pipeline", w7Pipeline},
	{"W8_close_broadcast", w8CloseBroadcast},
}

// matches reports whether -w sel names the workload: its id (W3) or its
// full name (W3_mpmc_buffered), in any case.
func matches(sel, name string) bool {
	id := name[:strings.IndexByte(name, '_')]
	return strings.EqualFold(sel, id) || strings.EqualFold(sel, name)
}

func main() {
	sel := flag.String("w", "", "run only this workload (W1..W8 or its full name)")
	flag.Float64Var(&scale, "n", 1, "multiply every size by this `scale`")
	flag.Parse()
	if flag.NArg() != 0 || !(scale > 0) {
		flag.Usage()
		os.Exit(2)
	}
	ran := 0
	for _, w := range workloads {
		if *sel == "" || matches(*sel, w.name) {
			w.run(w.name)
			ran++
		}
	}
	if ran == 0 {
		fmt.Fprintf(os.Stderr, "bench: unknown workload %q\n", *sel)
		os.Exit(2)
	}
}
