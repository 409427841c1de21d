package api

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/dispatcher"
	"github.com/lookout-synthetics/lookout/controller/internal/refusals"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/internal/natsbus"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/pki"
	"github.com/lookout-synthetics/lookout/internal/sealing"
)

// Agents implements AgentService.
type Agents struct {
	pb.UnimplementedAgentServiceServer
	Store    *store.Store
	Vault    Vault
	CA       *pki.CA
	Platform *Platform
	NATSURL  string // what agents are told to connect to
	CertTTL  time.Duration
	Notify   func(*pb.RunResult)
	Logger   *slog.Logger
	Secrets  *SecretMetrics // nil: not counted
	// Stopping closes when the controller shuts down: open RunCalls streams end with Unavailable
	// instead of holding the graceful stop.
	Stopping <-chan struct{}
	// Refusals merges the audit entries of refused calls and turns away an agent refused too
	// often; nil writes one entry per refusal.
	Refusals *refusals.Limiter

	refs       refCache         // vault items named by each checkpoint's monitors, for heartbeats
	beats      heartbeatGate    // when each agent's heartbeat was last stored
	enrollWarn refusals.Sampler // unauthenticated: sampled
}

// Enroll redeems a one-time token and issues the agent its identity. The checkpoint and its kind
// come from the token, never from the agent.
func (s *Agents) Enroll(ctx context.Context, req *pb.EnrollRequest) (*pb.EnrollResponse, error) {
	if len(req.SealingPublicKey) != 32 {
		return nil, status.Error(codes.InvalidArgument, "sealing_public_key: must be a 32-byte X25519 public key")
	}
	// Check the request before spending the token on it.
	if err := req.Validate(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v (the token was not used)", err)
	}
	if err := checkCSR(req.CsrDer); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "csr_der: %v (the token was not used)", err)
	}
	agentID := store.NewID("ag_")
	cp, err := s.Store.RedeemToken(req.Token, store.Agent{ID: agentID, InstanceName: req.InstanceName, Version: req.Version, SealingKey: req.SealingPublicKey,
		CertNotAfter: time.Now().Add(s.CertTTL)})
	if err != nil {
		if ok, held := s.enrollWarn.Allow(); ok {
			s.Logger.Warn("enrollment refused", "instance", req.InstanceName, "err", err, "not_logged_before", held)
		}
		s.refusedEnrollment(ctx, req, err)
		return nil, toStatus(err)
	}
	kind := store.KindName(cp.Kind)
	der, err := s.CA.IssueAgentCertificate(req.CsrDer, pki.Identity{AgentID: agentID, CheckpointID: cp.Id, Kind: kind}, s.CertTTL)
	if err != nil {
		// The token is spent; the agent record stays unusable without a certificate. Say so.
		return nil, status.Errorf(codes.InvalidArgument, "csr_der: %v (the token has been used; create a new one)", err)
	}
	subject, _ := natsbus.RunSubject(cp.Id)
	s.audit(agentID, "enroll", cp.Name, "kind="+kind)
	s.Logger.Info("agent enrolled", "agent", agentID, "checkpoint", cp.Name, "kind", kind, "instance", req.InstanceName)
	return &pb.EnrollResponse{
		AgentId: agentID, CheckpointId: cp.Id, CheckpointName: cp.Name, Kind: cp.Kind,
		CertificatePem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), CaPem: s.CA.PEM,
		NatsUrl: s.NATSURL, RunSubject: subject, QueueGroup: natsbus.QueueGroup(cp.Id),
	}, nil
}

// refusedEnrollment audits an enrollment refused for its token, merged with the others of its
// host. The entry says why (unknown, expired, used up) and which instance asked, never the token.
func (s *Agents) refusedEnrollment(ctx context.Context, req *pb.EnrollRequest, err error) {
	who := "enrollment token"
	switch {
	case errors.Is(err, store.ErrTokenUnknown):
		who = "unknown enrollment token"
	case !errors.Is(err, store.ErrTokenUsed) && !errors.Is(err, store.ErrTokenExpired) && !errors.Is(err, store.ErrKindMismatch):
		return // not a refusal: the store failed
	}
	refusalLog{Limiter: s.Refusals, Store: s.Store, Logger: s.Logger}.record(ctx, who, actionDeniedEnroll, "instance "+strconv.Quote(req.InstanceName), err.Error())
}

func checkCSR(der []byte) error {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return fmt.Errorf("certificate request is not valid PKCS#10: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return fmt.Errorf("certificate request signature does not verify: %w", err)
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// An agent's refused call is audited with what it sent, unchecked (a run id that may be anything up
// to the message cap): the entry keeps no more of it than these.
const (
	auditTargetMax = 128
	auditDetailMax = 1024
)

// refused records an agent's refused call, merged with others like it when Refusals is set. A run
// of another checkpoint was answered as not found; the entry says which it was.
func (s *Agents) refused(actor, action, target string, err error) {
	detail := err.Error()
	if errors.Is(err, store.ErrOtherCheckpoint) {
		detail += " (" + store.ErrOtherCheckpoint.Error() + ")"
	}
	if s.Refusals == nil {
		s.audit(actor, action, target, detail)
		return
	}
	s.Refusals.Refused(actor, action, clip(target, auditTargetMax), clip(detail, auditDetailMax))
}

// allow turns away the call of an agent refused too often lately, before it costs a store write.
func (s *Agents) allow(ag store.Agent, action string) error {
	if s.Refusals == nil || s.Refusals.Allow(ag.ID, action) {
		return nil
	}
	return status.Errorf(codes.ResourceExhausted, "agent %s: too many refused calls lately; wait and retry", ag.ID)
}

func (s *Agents) audit(actor, action, target, detail string) {
	e := store.AuditEntry{Actor: actor, Action: action, Target: clip(target, auditTargetMax), Detail: clip(detail, auditDetailMax)}
	if err := s.Store.Audit(e); err != nil {
		s.Logger.Error("writing audit entry", "err", err)
	}
}

// Heartbeat records that the agent is alive.
func (s *Agents) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	ag := agentFrom(ctx)
	if err := req.Validate(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if s.beats.due(ag.ID, time.Now()) {
		load := store.AgentLoad{InFlight: req.RunsInFlight, Spooled: req.SpooledResults, MaxConcurrent: req.MaxConcurrentRuns,
			Waiting: req.RunsWaiting, Saturated: req.Saturated}
		if _, err := s.Store.RecordHeartbeat(ag.ID, req.Version, load); err != nil {
			return nil, toStatus(err)
		}
	}
	return &pb.HeartbeatResponse{ServerTime: timestamppb.Now(), Drop: s.staleCached(ag, req.Cached)}, nil
}

// FetchRunSecrets claims the run for the calling agent and returns the secrets it needs, sealed to
// that agent. Only the instance the run went to, only while it is live, and the platform certificate
// only to a public checkpoint.
func (s *Agents) FetchRunSecrets(ctx context.Context, req *pb.FetchRunSecretsRequest) (*pb.FetchRunSecretsResponse, error) {
	ag := agentFrom(ctx)
	if err := req.Validate(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := s.allow(ag, "denied_fetch_run_secrets"); err != nil {
		return nil, err
	}
	// The claim and its audit entry (what will be sent, what the agent holds) commit together.
	var need []*pb.SecretRef
	var planned, reused []string
	run, err := s.Store.ClaimRunAudited(req.RunId, req.Attempt, ag, "fetch_run_secrets", func(r *pb.Run) string {
		var held []*pb.SecretRef
		need, held = splitHeld(r.Secrets, req.Have)
		planned, reused = s.refNames(need), s.refNames(held)
		if len(r.Secrets) == 0 {
			return "" // no secret released or used: the run table is the claim's record, not the audit log
		}
		return "items=" + orNone(planned) + " reused=" + strings.Join(reused, ",")
	})
	if err != nil {
		s.refused(ag.ID, "denied_fetch_run_secrets", req.RunId, err)
		return nil, toStatus(err)
	}
	s.Secrets.reused(len(reused))
	if len(need) == 0 {
		// The agent holds every item at the version this run names: the claim is all it needs.
		return &pb.FetchRunSecretsResponse{}, nil
	}
	cp, err := s.Store.Checkpoint(run.CheckpointId)
	if err != nil {
		return nil, toStatus(err)
	}
	secrets, names, err := s.material(need, cp)
	if err != nil {
		s.refused(ag.ID, "denied_fetch_run_secrets", run.RunId, err)
		s.endUnreadable(run, err)
		return nil, err
	}
	if !slices.Equal(names, planned) {
		// An item was replaced between dispatch and this call: record the versions really sent.
		s.audit(ag.ID, "fetch_run_secrets", run.RunId, "items="+strings.Join(names, ",")+" (newer than the run named)")
	}
	plain, err := proto.Marshal(secrets)
	if err != nil {
		return nil, status.Error(codes.Internal, "encoding run secrets")
	}
	sealed, err := sealing.Seal(ag.SealingKey, sealing.Info(ag.ID, run.RunId, run.Attempt), plain)
	clear(plain)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "sealing run secrets: %v", err)
	}
	s.Secrets.sealed(len(need))
	return &pb.FetchRunSecretsResponse{Sealed: sealed}, nil
}

// refNames names references as the audit log does (secretName).
func (s *Agents) refNames(refs []*pb.SecretRef) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, s.secretName(r.ItemId, r.Name, r.Version))
	}
	return out
}

// secretName is how the audit log names a secret: name@vVERSION for a vault item, and for the
// platform certificate, whose version is a hash nobody can read, "platform" with its fingerprint.
func (s *Agents) secretName(itemID, name string, version int64) string {
	if itemID != dispatcher.PlatformItemID {
		return fmt.Sprintf("%s@v%d", name, version)
	}
	if p := s.Platform; p != nil && p.Material.GetVersion() == version && p.Info.GetSha256Fingerprint() != "" {
		return "platform(sha256:" + p.Info.GetSha256Fingerprint() + ")"
	}
	return "platform(a previous certificate)"
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

func (s *Agents) material(refs []*pb.SecretRef, cp *pb.Checkpoint) (*pb.RunSecrets, []string, error) {
	out := &pb.RunSecrets{}
	var names []string
	for _, ref := range refs {
		var sec *pb.RunSecret
		if ref.ItemId == dispatcher.PlatformItemID {
			if cp.Kind != pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC || s.Platform == nil {
				return nil, nil, status.Errorf(codes.PermissionDenied, "the platform certificate is never released to %s checkpoint %q", store.KindName(cp.Kind), cp.Name)
			}
			sec = s.Platform.Material
		} else {
			var err error
			if sec, err = s.Vault.Material(ref.ItemId); err != nil {
				return nil, nil, status.Errorf(codes.FailedPrecondition, "vault item %q for this run: %v", ref.Name, err)
			}
		}
		out.Secrets = append(out.Secrets, sec)
		names = append(names, s.secretName(ref.ItemId, ref.Name, sec.Version))
	}
	return out, names, nil
}

// ReportResult stores an agent's result for a run it claimed. Reporting again is harmless.
func (s *Agents) ReportResult(ctx context.Context, req *pb.ReportResultRequest) (*pb.ReportResultResponse, error) {
	ag := agentFrom(ctx)
	if req.Result == nil || req.Result.RunId == "" {
		return nil, status.Error(codes.InvalidArgument, "result.run_id: required")
	}
	if proto.Size(req.Result) > 8<<20 {
		return nil, status.Error(codes.InvalidArgument, "result: larger than 8 MiB")
	}
	if err := req.Result.ValidateReport(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := s.allow(ag, "denied_report_result"); err != nil {
		return nil, err
	}
	stored, dup, err := s.Store.CompleteRun(req.Result, ag)
	if err != nil {
		s.refused(ag.ID, "denied_report_result", req.Result.RunId, err)
		return nil, toStatus(err)
	}
	if !dup {
		s.Notify(stored)
	}
	return &pb.ReportResultResponse{Duplicate: dup}, nil
}
