package app

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// shippedDeployment is deploy/kubernetes/deployment.yaml.
func shippedDeployment(t *testing.T) (*appsv1.Deployment, corev1.Container) {
	t.Helper()
	data, err := os.ReadFile("../../deploy/kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return &d, d.Spec.Template.Spec.Containers[0]
}

// manifestFlags are the manifest's literal REGIOND_* settings as serve flags
// (REGIOND_SHUTDOWN_DELAY=5s is --shutdown-delay=5s); the secrets come from elsewhere.
func manifestFlags(c corev1.Container) []string {
	var flags []string
	for _, e := range c.Env {
		if name, ok := strings.CutPrefix(e.Name, "REGIOND_"); ok && e.ValueFrom == nil {
			flags = append(flags, "--"+strings.ReplaceAll(strings.ToLower(name), "_", "-")+"="+e.Value)
		}
	}
	return flags
}

// loadBalancer is an L4 TCP balancer in front of replicas, as kube-proxy is in front of a
// Service's pods: each new connection goes to one of the backends whose readiness probe — run as
// the kubelet runs it, with the manifest's period, timeout and thresholds — last said ready, and
// stays pinned to it until either side closes it.
type loadBalancer struct {
	ln    net.Listener
	probe *corev1.Probe

	mu       sync.Mutex
	backends []*backend
	next     int
}

type backend struct {
	addr  string
	ready atomic.Bool
	stop  chan struct{}
}

func startLoadBalancer(t *testing.T, probe *corev1.Probe) *loadBalancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := &loadBalancer{ln: ln, probe: probe}
	t.Cleanup(func() {
		ln.Close()
		lb.mu.Lock()
		defer lb.mu.Unlock()
		for _, b := range lb.backends {
			close(b.stop)
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go lb.forward(conn)
		}
	}()
	return lb
}

func (lb *loadBalancer) addr() string { return lb.ln.Addr().String() }

// add puts a replica behind the balancer (its pod was created); it takes traffic once ready.
func (lb *loadBalancer) add(addr string) *backend {
	b := &backend{addr: addr, stop: make(chan struct{})}
	lb.mu.Lock()
	lb.backends = append(lb.backends, b)
	lb.mu.Unlock()
	go lb.runProbe(b)
	return b
}

// remove takes a replica away (its pod is gone).
func (lb *loadBalancer) remove(b *backend) {
	lb.mu.Lock()
	lb.backends = slices.DeleteFunc(lb.backends, func(x *backend) bool { return x == b })
	lb.mu.Unlock()
	close(b.stop)
}

// runProbe is the kubelet's readiness probe: every periodSeconds a GET of the probe's path that
// must answer 200 within timeoutSeconds; successThreshold successes in a row make the backend
// ready, failureThreshold failures in a row unready.
func (lb *loadBalancer) runProbe(b *backend) {
	p := lb.probe
	client := &http.Client{Timeout: time.Duration(p.TimeoutSeconds) * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(time.Duration(p.PeriodSeconds) * time.Second)
	defer tick.Stop()
	successes, failures := 0, 0
	for {
		resp, err := client.Get("http://" + b.addr + p.HTTPGet.Path)
		ok := err == nil && resp.StatusCode == 200
		if err == nil {
			resp.Body.Close()
		}
		if ok {
			successes, failures = successes+1, 0
			if successes >= int(p.SuccessThreshold) {
				b.ready.Store(true)
			}
		} else {
			successes, failures = 0, failures+1
			if failures >= int(p.FailureThreshold) {
				b.ready.Store(false)
			}
		}
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
	}
}

func (lb *loadBalancer) pick() *backend {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for range lb.backends {
		b := lb.backends[lb.next%len(lb.backends)]
		lb.next++
		if b.ready.Load() {
			return b
		}
	}
	return nil
}

// forward pipes a client connection to a ready backend. A backend that refuses the connection
// (its listener is closed) resets the client's, as a NAT to a closed port does.
func (lb *loadBalancer) forward(client net.Conn) {
	defer client.Close()
	b := lb.pick()
	if b == nil {
		return
	}
	server, err := net.Dial("tcp", b.addr)
	if err != nil {
		client.(*net.TCPConn).SetLinger(0)
		return
	}
	defer server.Close()
	go func() {
		io.Copy(server, client)
		server.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(client, server)
}

// strictClient is an HTTP/1.1 client that keeps keep-alive connections and never retries: a
// request that fails on a connection it reused — the server closed it as the request went out —
// is a failure, as it is for Python's http.client (RemoteDisconnected). It comes in two kinds:
// a pool (most recently used first, at most maxIdle, as Go's and urllib3's pools) that drops a
// pooled connection the server has closed; and, without checkDropped, one connection reused
// blindly until the server says Connection: close or the request fails, as http.client's.
type strictClient struct {
	addr         string
	maxIdle      int
	checkDropped bool
	mu           sync.Mutex
	idle         []*clientConn
}

type clientConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *strictClient) conn() (*clientConn, error) {
	for {
		c.mu.Lock()
		var cc *clientConn
		if n := len(c.idle); n > 0 {
			cc, c.idle = c.idle[n-1], c.idle[:n-1]
		}
		c.mu.Unlock()
		if cc == nil {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				return nil, err
			}
			return &clientConn{Conn: conn, r: bufio.NewReader(conn)}, nil
		}
		if !c.checkDropped {
			return cc, nil
		}
		// A pooled connection that is readable has been closed by the server (or is broken).
		cc.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := cc.r.Peek(1)
		cc.SetReadDeadline(time.Time{})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return cc, nil
		}
		cc.Close()
	}
}

func (c *strictClient) do(req *http.Request) (int, []byte, error) {
	cc, err := c.conn()
	if err != nil {
		return 0, nil, err
	}
	cc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := req.Write(cc); err != nil {
		cc.Close()
		return 0, nil, err
	}
	resp, err := http.ReadResponse(cc.r, req)
	if err != nil {
		cc.Close()
		return 0, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		cc.Close()
		return resp.StatusCode, body, err
	}
	cc.SetDeadline(time.Time{})
	c.mu.Lock()
	if len(c.idle) < c.maxIdle {
		c.idle, cc = append(c.idle, cc), nil
	}
	c.mu.Unlock()
	if cc != nil {
		cc.Close()
	}
	return resp.StatusCode, body, err
}

// TestRollingRestartLosesNoRequest runs three `regiond serve` replicas on one MariaDB database
// behind an L4 load balancer that routes as a Kubernetes Service does, with the shipped
// manifest's settings (its REGIOND_* values and readiness probe), and restarts them one after
// the other — SIGTERM, start the replacement, wait until it is ready, next — while workers send
// a steady load of reads and writes over keep-alive connections. Not one request may fail.
func TestRollingRestartLosesNoRequest(t *testing.T) {
	dsn := dbtest.MySQL(t)
	deployment, container := shippedDeployment(t)
	flags := append([]string{"--database", dsn}, manifestFlags(container)...)
	probe := container.ReadinessProbe
	t.Logf("replicas: %d, flags %v, readiness every %ds (timeout %ds, %d failures), terminationGracePeriodSeconds %d",
		*deployment.Spec.Replicas, flags[2:], probe.PeriodSeconds, probe.TimeoutSeconds, probe.FailureThreshold,
		*deployment.Spec.Template.Spec.TerminationGracePeriodSeconds)

	lb := startLoadBalancer(t, probe)
	type replica struct {
		p *process
		b *backend
	}
	waitReady := func(r replica) {
		deadline := time.Now().Add(60 * time.Second)
		for !r.b.ready.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s never became ready:\n%s", r.p.addr, r.p.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	start := func() replica {
		p := startProcess(t, flags...)
		r := replica{p, lb.add(p.addr)}
		waitReady(r)
		return r
	}
	var replicas []replica
	for range 3 {
		replicas = append(replicas, start())
	}

	// Half the workers share a pool, half hold a connection each. One token per worker: the
	// per-token rate limit is per replica, and a worker stays below it.
	const workers = 6
	pool := &strictClient{addr: lb.addr(), maxIdle: 2, checkDropped: true} // Go's default MaxIdleConnsPerHost
	clients := make([]*strictClient, workers)
	for w := range clients {
		clients[w] = pool
		if w%2 == 1 {
			clients[w] = &strictClient{addr: lb.addr(), maxIdle: 1}
		}
	}
	call := func(w int, method, path, tok, body string) (int, []byte, error) {
		req, _ := http.NewRequest(method, "http://"+lb.addr()+path, strings.NewReader(body))
		req.Header.Set("Authorization", tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		return clients[w].do(req)
	}
	tokens := make([]string, workers)
	for i := range tokens {
		status, body, err := call(0, "POST", "/openapi/v1/tokens", processAdmin, `{"scopes":["regions:read","regions:write"],"note":"load"}`)
		var created struct{ Token string }
		if err != nil || status != 201 || json.Unmarshal(body, &created) != nil {
			t.Fatalf("creating a token: %d %s %v", status, body, err)
		}
		tokens[i] = created.Token
	}

	var ok atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ids []string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var status int
				var body []byte
				var err error
				what := ""
				switch {
				case i%5 == 0:
					what = "create"
					status, body, err = call(w, "POST", "/openapi/v1/regions", tokens[w],
						fmt.Sprintf(`{"region_name":"roll-%d-%d","region_alias":"R","url":"https://roll.example.com"}`, w, i))
					var r struct {
						RegionID string `json:"region_id"`
					}
					if status == 201 && json.Unmarshal(body, &r) == nil {
						ids = append(ids, r.RegionID)
					}
				case i%5 == 1 && len(ids) > 0:
					what = "read"
					status, body, err = call(w, "GET", "/openapi/v1/regions/"+ids[len(ids)-1], tokens[w], "")
				default:
					what = "list"
					status, body, err = call(w, "GET", "/openapi/v1/regions", tokens[w], "")
				}
				if err != nil || status >= 300 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s worker %d %s: %d %v %.200s", time.Now().Format("15:04:05.000"), w, what, status, err, body))
					mu.Unlock()
				} else {
					ok.Add(1)
				}
				time.Sleep(15 * time.Millisecond)
			}
		}()
	}

	time.Sleep(time.Second)
	for i, old := range replicas {
		before := ok.Load()
		if err := old.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		replicas[i] = start()
		select {
		case err := <-old.p.done:
			if err != nil {
				t.Errorf("replica %s exited with %v", old.p.addr, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("replica %s did not stop within 60s of SIGTERM", old.p.addr)
		}
		lb.remove(old.b)
		t.Logf("replica %d restarted: %d requests served meanwhile", i+1, ok.Load()-before)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	t.Logf("%d requests succeeded, %d failed", ok.Load(), len(failures))
	if len(failures) > 0 {
		t.Errorf("%d requests failed during the rolling restart:\n%s", len(failures), strings.Join(failures[:min(len(failures), 20)], "\n"))
	}
	if ok.Load() < 500 {
		t.Errorf("only %d requests were served: too little load to tell", ok.Load())
	}
}
