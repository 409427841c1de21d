package ctl

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/internal/natsbus"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/runcalls"
	"github.com/lookout-synthetics/lookout/internal/sealing"
)

// simAgent is an enrolled agent that answers every run at once: claim (FetchRunSecrets), then
// report a minimal passed result, both on the RunCalls stream the real agent uses. It records
// dispatch→acknowledged latency from the run's scheduled_at (set by the controller's dispatcher)
// to the return of ReportResult.
type simAgent struct {
	nc     *nats.Conn
	conn   *grpc.ClientConn
	client *runcalls.Client // FetchRunSecrets and ReportResult on one stream, as the real agent
	work   chan *nats.Msg
	quit   chan struct{} // closed by close: the NATS callback and the workers stop taking runs
	wg     sync.WaitGroup
	// result, when set, is the result reported for a run instead of a minimal passed one (the
	// storage bench); set before the first run arrives.
	result func(*pb.RunRequest) *pb.RunResult
}

// recorder collects latencies of completed runs; the harness swaps it between phases.
type recorder struct {
	mu        sync.Mutex
	lat       []time.Duration
	at        []time.Time        // per run: when the controller dispatched it (scheduled_at)
	parts     [3][]time.Duration // per run: dispatch→delivered, FetchRunSecrets, ReportResult
	completed atomic.Int64
	failed    atomic.Int64
	firstErr  atomic.Value
}

func (r *recorder) add(sched time.Time, d time.Duration, parts [3]time.Duration) {
	r.completed.Add(1)
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.at = append(r.at, sched)
	for i, p := range parts {
		r.parts[i] = append(r.parts[i], p)
	}
	r.mu.Unlock()
}

func (r *recorder) fail(err error) {
	r.failed.Add(1)
	r.firstErr.CompareAndSwap(nil, err.Error())
}

// enrollSim redeems token with a fresh key pair and connects to NATS and gRPC as that agent.
func enrollSim(ctx context.Context, grpcAddr string, caPool *x509.CertPool, token, name string, workers int, rec *atomic.Pointer[recorder]) (*simAgent, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		return nil, err
	}
	seal, err := sealing.NewKey()
	if err != nil {
		return nil, err
	}
	anon, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12})))
	if err != nil {
		return nil, err
	}
	defer anon.Close()
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := pb.NewAgentServiceClient(anon).Enroll(ectx, &pb.EnrollRequest{Token: token, CsrDer: csr, SealingPublicKey: seal.PublicKey().Bytes(), InstanceName: name, Version: "bench"})
	if err != nil {
		return nil, fmt.Errorf("enrolling %s: %w", name, err)
	}
	cert := tls.Certificate{PrivateKey: key}
	if cert.Certificate, err = pemCerts(resp.CertificatePem); err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: caPool, MinVersion: tls.VersionTLS12}
	a := &simAgent{work: make(chan *nats.Msg, 4096), quit: make(chan struct{})}
	if a.conn, err = grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(tlsConf))); err != nil {
		return nil, err
	}
	a.client = runcalls.New(pb.NewAgentServiceClient(a.conn), nil)
	a.nc, err = nats.Connect(resp.NatsUrl, nats.Name("bench "+name), nats.CustomInboxPrefix(natsbus.InboxPrefix(resp.AgentId)), nats.Secure(tlsConf),
		nats.Timeout(10*time.Second))
	if err != nil {
		a.conn.Close()
		return nil, fmt.Errorf("NATS for %s: %w", name, err)
	}
	sub, err := a.nc.QueueSubscribe(resp.RunSubject, resp.QueueGroup, func(m *nats.Msg) {
		// Never a send on a closed channel: nats.Conn.Close does not wait for a callback in flight.
		select {
		case a.work <- m:
		case <-a.quit:
		}
	})
	if err != nil {
		a.close()
		return nil, err
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := a.nc.FlushTimeout(10 * time.Second); err != nil {
		a.close()
		return nil, err
	}
	for range workers {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for {
				select {
				case m := <-a.work:
					a.answer(ctx, m.Data, rec.Load())
				case <-a.quit:
					return
				}
			}
		}()
	}
	return a, nil
}

func (a *simAgent) answer(ctx context.Context, data []byte, rec *recorder) {
	req := &pb.RunRequest{}
	if err := proto.Unmarshal(data, req); err != nil {
		rec.fail(err)
		return
	}
	delivered := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := a.client.FetchRunSecrets(cctx, &pb.FetchRunSecretsRequest{RunId: req.RunId, Attempt: req.Attempt}); err != nil {
		rec.fail(fmt.Errorf("FetchRunSecrets: %w", err))
		return
	}
	fetched := time.Now()
	now := timestamppb.New(fetched)
	res := &pb.RunResult{RunId: req.RunId, Attempt: req.Attempt, Outcome: pb.Outcome_OUTCOME_PASSED, StartedAt: now, FinishedAt: now}
	if a.result != nil {
		res = a.result(req)
	}
	if _, err := a.client.ReportResult(cctx, &pb.ReportResultRequest{Result: res}); err != nil {
		rec.fail(fmt.Errorf("ReportResult: %w", err))
		return
	}
	acked := time.Now()
	sched := req.ScheduledAt.AsTime()
	rec.add(sched, acked.Sub(sched), [3]time.Duration{delivered.Sub(sched), fetched.Sub(delivered), acked.Sub(fetched)})
}

func (a *simAgent) close() {
	close(a.quit)
	if a.nc != nil {
		a.nc.Close()
	}
	a.wg.Wait()
	if a.client != nil {
		a.client.Close()
	}
	if a.conn != nil {
		a.conn.Close()
	}
}
