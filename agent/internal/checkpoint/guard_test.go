package checkpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/agent/internal/identity"
	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/sealing"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// rogueController is an AgentService that offers whatever it is told to, sealed properly to the
// agent: it plays a controller whose first two defences failed.
type rogueController struct {
	pb.UnimplementedAgentServiceServer
	agentID string
	sealTo  []byte
	offer   *pb.RunSecrets

	mu      sync.Mutex
	fail    []error // answers to the next fetches, before any succeeds
	fetches int
	reports []*pb.RunResult
}

func (s *rogueController) FetchRunSecrets(_ context.Context, req *pb.FetchRunSecretsRequest) (*pb.FetchRunSecretsResponse, error) {
	s.mu.Lock()
	s.fetches++
	if len(s.fail) > 0 {
		err := s.fail[0]
		s.fail = s.fail[1:]
		s.mu.Unlock()
		return nil, err
	}
	s.mu.Unlock()
	plain, err := proto.Marshal(s.offer)
	if err != nil {
		return nil, err
	}
	sealed, err := sealing.Seal(s.sealTo, sealing.Info(s.agentID, req.RunId, req.Attempt), plain)
	return &pb.FetchRunSecretsResponse{Sealed: sealed}, err
}

func (s *rogueController) ReportResult(_ context.Context, req *pb.ReportResultRequest) (*pb.ReportResultResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reports = append(s.reports, proto.Clone(req.Result).(*pb.RunResult))
	return &pb.ReportResultResponse{}, nil
}

// streamingRogue is the rogue controller serving RunCalls too, as a current controller does: each
// call goes to the unary handler, its answer back by id.
type streamingRogue struct{ *rogueController }

func (s streamingRogue) RunCalls(stream grpc.BidiStreamingServer[pb.RunCall, pb.RunCallReply]) error {
	for {
		call, err := stream.Recv()
		if err != nil {
			return nil
		}
		reply := &pb.RunCallReply{Id: call.Id}
		switch c := call.Call.(type) {
		case *pb.RunCall_FetchRunSecrets:
			resp, err := s.FetchRunSecrets(stream.Context(), c.FetchRunSecrets)
			if err != nil {
				// As the controller does: the call's own error, the stream goes on.
				st := status.Convert(err)
				reply.Reply = &pb.RunCallReply_Error{Error: &pb.CallError{Code: int32(st.Code()), Message: st.Message()}}
				break
			}
			reply.Reply = &pb.RunCallReply_FetchRunSecrets{FetchRunSecrets: resp}
		case *pb.RunCall_ReportResult:
			resp, err := s.ReportResult(stream.Context(), c.ReportResult)
			if err != nil {
				return err
			}
			reply.Reply = &pb.RunCallReply_ReportResult{ReportResult: resp}
		}
		if err := stream.Send(reply); err != nil {
			return err
		}
	}
}

func (s *rogueController) seen() (int, []*pb.RunResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches, append([]*pb.RunResult(nil), s.reports...)
}

// guardFixture is an agent of kind wired to a rogue controller over real gRPC with mutual TLS.
type guardFixture struct {
	agent    *Agent
	rogue    *rogueController
	cap      *capture
	logs     *syncBuffer
	platform *testutil.Leaf
}

func newGuardFixture(t *testing.T, kind string) *guardFixture {
	t.Helper()
	return newGuardFixtureWith(t, kind, true)
}

// newGuardFixtureWith serves RunCalls when streaming is set; without, the controller is one that
// predates the stream and has only the unary calls.
func newGuardFixtureWith(t *testing.T, kind string, streaming bool) *guardFixture {
	t.Helper()
	ca := testutil.NewCA(t, "guard CA")
	platform, vault := ca.Issue(t, "platform-client", false), ca.Issue(t, "vault-client", false)
	sk, err := sealing.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	material := func(id, name string, leaf *testutil.Leaf) *pb.RunSecret {
		return &pb.RunSecret{ItemId: id, Name: name, Version: 1,
			Value: &pb.RunSecret_Certificate{Certificate: &pb.CertificateMaterial{ChainDer: [][]byte{leaf.Cert.Raw}, Pkcs8Key: leaf.PKCS8()}}}
	}
	rogue := &rogueController{agentID: "ag_guard", sealTo: sk.PublicKey().Bytes(), offer: &pb.RunSecrets{Secrets: []*pb.RunSecret{
		material("vi_vault", "partner-cert", vault), // a legitimate item first: the refusal must not depend on order
		material(platformItem, platformItem, platform),
	}}}

	serverLeaf := ca.Issue(t, "controller", true)
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverLeaf.Cert.Raw}, PrivateKey: serverLeaf.Key}},
		ClientCAs:    ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	})))
	if streaming {
		pb.RegisterAgentServiceServer(srv, streamingRogue{rogue})
	} else {
		pb.RegisterAgentServiceServer(srv, rogue)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	client := ca.Issue(t, "agent", false)
	id := &identity.Identity{AgentID: "ag_guard", CheckpointID: "cp_guard", CheckpointName: "guard-1", Kind: kind, Controller: lis.Addr().String(),
		Certificate: tls.Certificate{Certificate: [][]byte{client.Cert.Raw}, PrivateKey: client.Key}, CAPool: ca.Pool(), SealingKey: sk}
	f := &guardFixture{rogue: rogue, cap: &capture{}, logs: &syncBuffer{}, platform: platform}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if f.agent, err = New(Options{Identity: id, Version: "test", Logger: log, Runner: runner.Options{}, Tap: f.cap.tap}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.agent.rpc.Load().close() })
	return f
}

// request is a run of one step with the given client certificate choice.
func request(source pb.CertificateSource) *pb.RunRequest {
	now := time.Now()
	step := &pb.Step{Name: "hello", Request: &pb.HttpRequest{Method: "GET", Url: "https://127.0.0.1:1/hello",
		ClientCertificate: &pb.ClientCertificate{Source: source}}}
	return &pb.RunRequest{RunId: "run_guard", Attempt: 1, CheckpointId: "cp_guard", ScheduledAt: timestamppb.New(now),
		Deadline: timestamppb.New(now.Add(30 * time.Second)),
		Monitor:  &pb.Monitor{Name: "guarded", Timeout: durationpb.New(10 * time.Second), Steps: []*pb.Step{step}}}
}

// TestPrivateAgentRefusesOfferedPlatformMaterial is DESIGN §5 (3): a controller that offers the
// platform certificate to a private agent, for a run that does not even ask for it, gets a policy
// error back; the key is in neither the result nor the agent's log, and was never parsed.
func TestPrivateAgentRefusesOfferedPlatformMaterial(t *testing.T) {
	t.Parallel()
	f := newGuardFixture(t, "private")
	f.agent.execute(t.Context(), request(pb.CertificateSource_CERTIFICATE_SOURCE_UNSPECIFIED))

	fetches, reports := f.rogue.seen()
	if fetches != 1 || len(reports) != 1 {
		t.Fatalf("fetches %d, reports %d; want 1 and 1", fetches, len(reports))
	}
	res := reports[0]
	if res.Outcome != pb.Outcome_OUTCOME_ERROR || res.ErrorClass != pb.ErrorClass_ERROR_CLASS_POLICY {
		t.Errorf("result outcome %v class %v, want an error of class policy", res.Outcome, res.ErrorClass)
	}
	for _, want := range []string{"policy", "platform certificate", "private checkpoint", "refused"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("result message %q does not say %q", res.Message, want)
		}
	}
	if len(res.Steps) != 0 {
		t.Errorf("the run executed %d step(s) after platform material was offered", len(res.Steps))
	}

	forms := keyNeedles(t, "platform key", f.platform.Key)
	wire, _ := proto.Marshal(res)
	asJSON, _ := protojson.Marshal(res)
	out := []hay{{"result", wire}, {"result JSON", asJSON}, {"agent log", f.logs.Bytes()}}
	if hits := findSecrets(forms, out); len(hits) > 0 {
		t.Errorf("the refused platform key came back out:\n%s", strings.Join(hits, "\n"))
	}
	if hits := findSecrets(forms, f.cap.all()); !containsPrefix(hits, "platform key PKCS#8 raw DER/bytes in unsealed:") {
		t.Errorf("the tap did not see the offered platform key (found %v): this test would prove nothing", hits)
	}
	for _, ref := range f.agent.cache.list() {
		if ref.ItemId == platformItem {
			t.Errorf("the private agent parsed and cached the platform certificate (version %d)", ref.Version)
		}
	}
}

// TestPrivateAgentDoesNotClaimARunAskingForPlatform: a private agent given a run whose steps ask
// for the platform certificate does not even fetch the run's secrets, and says why in its log.
func TestPrivateAgentDoesNotClaimARunAskingForPlatform(t *testing.T) {
	t.Parallel()
	f := newGuardFixture(t, "private")
	f.agent.execute(t.Context(), request(pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM))
	if fetches, reports := f.rogue.seen(); fetches != 0 || len(reports) != 0 {
		t.Fatalf("fetches %d, reports %d; want none: the agent must not claim the run", fetches, len(reports))
	}
	if log := string(f.logs.Bytes()); !strings.Contains(log, "refusing a run that asks for the platform certificate on a private checkpoint") {
		t.Errorf("the agent's log does not say why it refused:\n%s", log)
	}
}

// cacheAndResolve takes offered material the way a fetch does (into the cache) and resolves a run
// that names all of it.
func cacheAndResolve(a *Agent, offer *pb.RunSecrets) (*runner.Secrets, error) {
	h := held{}
	req := &pb.RunRequest{}
	for _, sec := range offer.Secrets {
		e, err := a.cache.put(sec)
		if err != nil {
			return nil, err
		}
		h[sec.ItemId] = e
		req.Secrets = append(req.Secrets, &pb.SecretRef{ItemId: sec.ItemId, Name: sec.Name, Version: sec.Version})
	}
	return a.resolve(req, h)
}

// TestResolvePlatformMaterialByKind: resolve refuses platform material unless the agent is public,
// including an agent whose kind is unknown; a public agent gets the platform certificate.
func TestResolvePlatformMaterialByKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind   string
		refuse bool
	}{{"private", true}, {"", true}, {"PUBLIC", true}, {"public", false}} {
		t.Run("kind="+tc.kind, func(t *testing.T) {
			t.Parallel()
			f := newGuardFixture(t, tc.kind)
			rs, err := cacheAndResolve(f.agent, f.rogue.offer)
			if !tc.refuse {
				if err != nil || rs.Platform == nil || rs.Certificates["partner-cert"] == nil {
					t.Fatalf("public agent: resolve = %+v, %v; want the platform and vault certificates", rs, err)
				}
				return
			}
			if !errors.Is(err, errPlatformOffered) || rs != nil {
				t.Fatalf("resolve = %+v, %v; want errPlatformOffered and nothing resolved", rs, err)
			}
			if got := classOf(err); got != pb.ErrorClass_ERROR_CLASS_POLICY {
				t.Errorf("classOf = %v, want policy", got)
			}
		})
	}
}
