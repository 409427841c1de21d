package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/dispatcher"
	"github.com/lookout-synthetics/lookout/controller/internal/monitorfile"
	"github.com/lookout-synthetics/lookout/controller/internal/refusals"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Vault is the part of the vault the API uses: every item type's add and replace, reads of
// metadata, deletion, and the material sealed to agents.
type Vault interface {
	AddCertificate(name, description string, archive []byte, password string) (*pb.VaultItem, []string, error)
	ReplaceCertificate(nameOrID, description string, archive []byte, password string) (*pb.VaultItem, []string, error)
	AddCredentials(name, description, username, password string) (*pb.VaultItem, error)
	ReplaceCredentials(nameOrID, description, username, password string) (*pb.VaultItem, error)
	AddSecret(name, description, value string) (*pb.VaultItem, error)
	ReplaceSecret(nameOrID, description, value string) (*pb.VaultItem, error)
	AddFile(name, description, filename, contentType string, content []byte) (*pb.VaultItem, error)
	ReplaceFile(nameOrID, description, filename, contentType string, content []byte) (*pb.VaultItem, error)
	List() ([]*pb.VaultItem, error)
	Get(nameOrID string) (*pb.VaultItem, error)
	Delete(nameOrID string) error
	Material(nameOrID string) (*pb.RunSecret, error)
}

var _ Vault = (*vault.Vault)(nil)

// Version is the platform certificate's version as run requests name it; 0 when none is loaded.
func (p *Platform) Version() int64 {
	if p == nil {
		return 0
	}
	return p.Material.GetVersion()
}

// Platform is the platform certificate as loaded at start-up (nil when not configured).
type Platform struct {
	Material *pb.RunSecret // certificate chain + PKCS#8 key: only ever sealed to public agents
	Info     *pb.CertificateInfo
	PEM      string // public certificate chain
}

// Admin implements AdminService.
type Admin struct {
	pb.UnimplementedAdminServiceServer
	Store      *store.Store
	Vault      Vault
	Dispatcher *dispatcher.Dispatcher
	Platform   *Platform
	Resync     func()              // called after monitors change, to update the schedule
	Upsert     func(m *pb.Monitor) // when set, called instead of Resync after one monitor changed
	Logger     *slog.Logger
	// OnlineWindow: an agent seen within it is online.
	OnlineWindow time.Duration
	// Alerting, when set, checks monitors' channels and keeps vault items channels use.
	Alerting AlertingRefs
	// Refusals merges the audit entries of refused calls (a monitor that does not apply, a wrong
	// archive password); nil writes one entry per refusal.
	Refusals *refusals.Limiter
}

func (a *Admin) audit(ctx context.Context, action, target string) {
	if err := a.Store.Audit(store.AuditEntry{Actor: Actor(ctx), Action: action, Target: target}); err != nil {
		a.Logger.Error("writing audit entry", "err", err)
	}
}

// AddCertificate imports a PKCS#12 archive into the vault.
func (a *Admin) AddCertificate(ctx context.Context, req *pb.AddCertificateRequest) (*pb.AddVaultItemResponse, error) {
	it, warnings, err := a.Vault.AddCertificate(req.Name, req.Description, req.Archive, req.Password)
	if err != nil {
		a.rejectedArchive(ctx, req.Name, err)
		return nil, toStatus(err)
	}
	a.audit(ctx, "vault_add_certificate", it.Name)
	return &pb.AddVaultItemResponse{Item: it, Warnings: warnings}, nil
}

// AddCredentials stores a credential set.
func (a *Admin) AddCredentials(ctx context.Context, req *pb.AddCredentialsRequest) (*pb.AddVaultItemResponse, error) {
	it, err := a.Vault.AddCredentials(req.Name, req.Description, req.Username, req.Password)
	if err != nil {
		return nil, toStatus(err)
	}
	a.audit(ctx, "vault_add_credentials", it.Name)
	return &pb.AddVaultItemResponse{Item: it}, nil
}

// ListVaultItems lists metadata, with the monitors that use each item.
func (a *Admin) ListVaultItems(context.Context, *pb.ListVaultItemsRequest) (*pb.ListVaultItemsResponse, error) {
	items, err := a.Vault.List()
	if err != nil {
		return nil, toStatus(err)
	}
	usage, err := a.vaultUsage()
	if err != nil {
		return nil, toStatus(err)
	}
	for _, it := range items {
		it.UsedBy = usage[it.Name]
	}
	return &pb.ListVaultItemsResponse{Items: items}, nil
}

// GetVaultItem returns one item's metadata, with the monitors that use it.
func (a *Admin) GetVaultItem(_ context.Context, req *pb.GetVaultItemRequest) (*pb.VaultItem, error) {
	it, err := a.Vault.Get(req.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	if it.UsedBy, err = a.monitorsUsing(it.Name); err != nil {
		return nil, toStatus(err)
	}
	return it, nil
}

// DeleteVaultItem deletes an item no monitor uses.
func (a *Admin) DeleteVaultItem(ctx context.Context, req *pb.DeleteVaultItemRequest) (*pb.DeleteVaultItemResponse, error) {
	it, err := a.Vault.Get(req.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	users, err := a.monitorsUsing(it.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	if len(users) > 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "vault item %q is used by monitor(s) %s: change or delete them first", it.Name, strings.Join(users, ", "))
	}
	if chans, err := a.channelsUsing(it.Name); err != nil {
		return nil, toStatus(err)
	} else if len(chans) > 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "vault item %q is used by channel(s) %s: change or delete them first", it.Name, strings.Join(chans, ", "))
	}
	if err := a.Vault.Delete(it.Id); err != nil {
		return nil, toStatus(err)
	}
	a.audit(ctx, "vault_delete", it.Name)
	return &pb.DeleteVaultItemResponse{}, nil
}

func (a *Admin) monitorsUsing(item string) ([]string, error) {
	usage, err := a.vaultUsage()
	return usage[item], err
}

// vaultUsage maps each vault item name to the sorted names of the monitors that reference it,
// in any field (monitorfile.VaultRefs).
func (a *Admin) vaultUsage() (map[string][]string, error) {
	ms, err := a.Store.Monitors()
	if err != nil {
		return nil, err
	}
	usage := map[string][]string{}
	for _, m := range ms {
		for _, ref := range monitorfile.VaultRefs(m) {
			if users := usage[ref.Item]; !slices.Contains(users, m.Name) {
				usage[ref.Item] = append(users, m.Name)
			}
		}
	}
	for _, users := range usage {
		slices.Sort(users)
	}
	return usage, nil
}

// ApplyMonitor parses, checks and stores a monitor file.
func (a *Admin) ApplyMonitor(ctx context.Context, req *pb.ApplyMonitorRequest) (*pb.ApplyMonitorResponse, error) {
	if f := req.Format; f != "" && f != "lookout" {
		return nil, status.Errorf(codes.InvalidArgument, "format %q is not accepted here; send a lookout monitor file (the CLI converts Uptrends exports: lookout-controller monitor apply --format uptrends)", f)
	}
	m, err := monitorfile.Parse(req.Source)
	if err != nil {
		a.rejectedApply(ctx, req, nil, err)
		return nil, status.Errorf(codes.InvalidArgument, "%s is not a valid monitor file:\n%v", cmp.Or(req.Filename, "monitor"), err)
	}
	if errs := monitorfile.CheckVariables(m); len(errs) > 0 {
		a.rejectedApply(ctx, req, m, errs)
		return nil, status.Errorf(codes.InvalidArgument, "%s is not a valid monitor file:\n%v", cmp.Or(req.Filename, "monitor"), monitorfile.AddLines(req.Source, errs))
	}
	if errs := a.checkReferences(m); len(errs) > 0 {
		a.rejectedApply(ctx, req, m, errs)
		return nil, status.Errorf(codes.FailedPrecondition, "%s cannot be applied:\n%v", cmp.Or(req.Filename, "monitor"), monitorfile.AddLines(req.Source, errs))
	}
	m.Paused = req.Paused
	stored, created, changed, err := a.Store.PutMonitor(m)
	if err != nil {
		return nil, toStatus(err)
	}
	if changed {
		a.audit(ctx, "monitor_apply", stored.Name)
		a.scheduleChanged(stored)
	}
	return &pb.ApplyMonitorResponse{Monitor: stored, Created: created, Changed: changed}, nil
}

// checkReferences checks what a monitor names outside itself: checkpoints, vault items and the
// platform certificate — which is refused outright on private checkpoints.
func (a *Admin) checkReferences(m *pb.Monitor) pb.FieldErrors {
	var errs pb.FieldErrors
	var private []string
	for i, name := range m.Checkpoints {
		cp, err := a.Store.Checkpoint(name)
		if err != nil {
			errs = append(errs, pb.FieldError{Path: fmt.Sprintf("checkpoints[%d]", i),
				Msg: fmt.Sprintf("checkpoint %q does not exist; create it with `lookout-controller checkpoint token --name %s --kind public|private`", name, name)})
			continue
		}
		if cp.Kind == pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE {
			private = append(private, name)
		}
	}
	for i, st := range m.Steps {
		errs = append(errs, a.checkPlatform(fmt.Sprintf("steps[%d].request", i), st.GetRequest(), private)...)
	}
	for _, ref := range monitorfile.VaultRefs(m) {
		errs = append(errs, a.checkItem(ref)...)
	}
	return append(errs, a.checkChannels(m)...)
}

func (a *Admin) checkPlatform(path string, req *pb.HttpRequest, private []string) pb.FieldErrors {
	var errs pb.FieldErrors
	if req == nil {
		return nil
	}
	cc := req.GetClientCertificate()
	switch cc.GetSource() {
	case pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM:
		if len(private) > 0 {
			errs = append(errs, pb.FieldError{Path: path + ".client_certificate", Msg: fmt.Sprintf(
				"the platform certificate cannot be used on private checkpoint(s) %s: its private key never leaves the operator's public checkpoints; use a vault certificate ({source: vault, item: …}) or run this monitor on public checkpoints only",
				strings.Join(private, ", "))})
		}
		if a.Platform == nil {
			errs = append(errs, pb.FieldError{Path: path + ".client_certificate", Msg: "no platform certificate is configured on this controller (start it with --platform-cert-file)"})
		}
	}
	return errs
}

// checkItem checks that a referenced vault item exists and has the type its field needs.
func (a *Admin) checkItem(ref monitorfile.VaultRef) pb.FieldErrors {
	it, err := a.Vault.Get(ref.Item)
	if err != nil {
		return pb.FieldErrors{{Path: ref.Path, Msg: fmt.Sprintf("vault item %q does not exist; add it with `lookout-controller vault %s` first", ref.Item, addCommand(ref.Want))}}
	}
	if it.Type != ref.Want {
		return pb.FieldErrors{{Path: ref.Path, Msg: fmt.Sprintf("vault item %q is a %s, not a %s: %s needs a %s item (add one with `lookout-controller vault %s`)",
			ref.Item, it.Type.Word(), ref.Want.Word(), ref.Field, ref.Want.Word(), addCommand(ref.Want))}}
	}
	return nil
}

func addCommand(t pb.VaultItemType) string {
	switch t {
	case pb.VaultItemType_VAULT_ITEM_TYPE_CREDENTIALS:
		return "add-credentials"
	case pb.VaultItemType_VAULT_ITEM_TYPE_SECRET:
		return "add-secret"
	case pb.VaultItemType_VAULT_ITEM_TYPE_FILE:
		return "add-file"
	}
	return "add-certificate"
}

// ListMonitors lists monitors by name.
func (a *Admin) ListMonitors(context.Context, *pb.ListMonitorsRequest) (*pb.ListMonitorsResponse, error) {
	ms, err := a.Store.Monitors()
	slices.SortFunc(ms, func(x, y *pb.Monitor) int { return strings.Compare(x.Name, y.Name) })
	return &pb.ListMonitorsResponse{Monitors: ms}, toStatus(err)
}

// GetMonitor returns one monitor.
func (a *Admin) GetMonitor(_ context.Context, req *pb.GetMonitorRequest) (*pb.Monitor, error) {
	m, err := a.Store.Monitor(req.Name)
	return m, toStatus(err)
}

// SetMonitorPaused pauses or resumes a monitor's schedule.
func (a *Admin) SetMonitorPaused(ctx context.Context, req *pb.SetMonitorPausedRequest) (*pb.Monitor, error) {
	m, changed, err := a.Store.SetMonitorPaused(req.Name, req.Paused)
	if err != nil {
		return nil, toStatus(err)
	}
	if changed {
		a.audit(ctx, map[bool]string{true: "monitor_pause", false: "monitor_resume"}[req.Paused], m.Name)
		a.scheduleChanged(m)
	}
	return m, nil
}

// DeleteMonitor deletes a monitor; its results stay.
func (a *Admin) DeleteMonitor(ctx context.Context, req *pb.DeleteMonitorRequest) (*pb.DeleteMonitorResponse, error) {
	if err := a.Store.DeleteMonitor(req.Name); err != nil {
		return nil, toStatus(err)
	}
	a.audit(ctx, "monitor_delete", req.Name)
	a.Resync()
	return &pb.DeleteMonitorResponse{}, nil
}

// CreateEnrollmentToken creates the checkpoint if needed and a one-time token for one agent.
func (a *Admin) CreateEnrollmentToken(ctx context.Context, req *pb.CreateEnrollmentTokenRequest) (*pb.CreateEnrollmentTokenResponse, error) {
	if err := checkName(req.CheckpointName); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "name: %v", err)
	}
	if req.Kind == pb.CheckpointKind_CHECKPOINT_KIND_UNSPECIFIED {
		return nil, status.Error(codes.InvalidArgument, "kind: say whether the checkpoint is public (run by you) or private (run by a customer)")
	}
	ttl := 24 * time.Hour
	if req.Ttl != nil {
		ttl = req.Ttl.AsDuration()
	}
	if ttl <= 0 || ttl > 30*24*time.Hour {
		return nil, status.Error(codes.InvalidArgument, "ttl: must be between 1s and 720h")
	}
	uses := max(int(req.Uses), 1)
	if req.Uses < 0 || uses > maxTokenUses {
		return nil, status.Errorf(codes.InvalidArgument, "uses: must be between 1 and %d", maxTokenUses)
	}
	cp, err := a.Store.EnsureCheckpoint(req.CheckpointName, req.Kind)
	if err != nil {
		return nil, toStatus(err)
	}
	token := newToken()
	if err := a.Store.CreateTokenUses(token, cp.Id, ttl, uses); err != nil {
		return nil, toStatus(err)
	}
	a.audit(ctx, "enrollment_token_create", cp.Name)
	return &pb.CreateEnrollmentTokenResponse{Token: token, Checkpoint: cp}, nil
}

// maxTokenUses bounds the instances one enrollment token enrols (a StatefulSet, an autoscaled group).
const maxTokenUses = 1000

// newToken is an enrollment token: 256 random bits behind the "lkt_" prefix (the store refuses
// tokens shorter than 32 characters, which rand.Text's 26 would be).
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error (Go 1.24+)
	return "lkt_" + base64.RawURLEncoding.EncodeToString(b)
}

func checkName(n string) error {
	if n == "" || len(n) > 64 {
		return fmt.Errorf("must be 1–64 characters")
	}
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '-' || r == '_' || r == '.'))
		if !ok {
			return fmt.Errorf("%q may hold letters, digits, '-', '_' and '.', and must start with a letter or digit", n)
		}
	}
	return pb.CheckNotIDShaped(n)
}

// ListCheckpoints lists checkpoints with their agent instances and whether each is online.
func (a *Admin) ListCheckpoints(context.Context, *pb.ListCheckpointsRequest) (*pb.ListCheckpointsResponse, error) {
	cps, agents, err := a.Store.Checkpoints()
	if err != nil {
		return nil, toStatus(err)
	}
	left, err := a.Store.EnrollmentsLeft()
	if err != nil {
		return nil, toStatus(err)
	}
	byID := map[string]*pb.Checkpoint{}
	for _, cp := range cps {
		byID[cp.Id] = cp
		cp.EnrollmentsLeft = int32(left[cp.Id])
	}
	now := time.Now()
	for _, ag := range agents {
		if cp := byID[ag.CheckpointID]; cp != nil {
			cp.Agents = append(cp.Agents, &pb.AgentInstance{Id: ag.ID, CheckpointId: ag.CheckpointID, InstanceName: ag.InstanceName,
				Version: ag.Version, EnrolledAt: timestamppb.New(ag.EnrolledAt), LastSeen: timestamppb.New(ag.LastSeen),
				Online: !ag.Revoked && now.Sub(ag.LastSeen) < a.OnlineWindow, Revoked: ag.Revoked,
				RunsInFlight: ag.RunsInFlight, SpooledResults: ag.Spooled, CertificateNotAfter: optionalTime(ag.CertNotAfter),
				MaxConcurrentRuns: ag.MaxConcurrent, RunsWaiting: ag.Waiting, Saturated: ag.Saturated})
		}
	}
	return &pb.ListCheckpointsResponse{Checkpoints: cps}, nil
}

// RevokeCheckpoint revokes every agent of a checkpoint.
func (a *Admin) RevokeCheckpoint(ctx context.Context, req *pb.RevokeCheckpointRequest) (*pb.RevokeCheckpointResponse, error) {
	cp, err := a.Store.Checkpoint(req.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	n, err := a.Store.RevokeCheckpoint(cp.Id)
	if err != nil {
		return nil, toStatus(err)
	}
	a.audit(ctx, "checkpoint_revoke", cp.Name)
	return &pb.RevokeCheckpointResponse{AgentsRevoked: int32(n)}, nil
}

// TriggerRun runs a monitor now.
func (a *Admin) TriggerRun(_ context.Context, req *pb.TriggerRunRequest) (*pb.TriggerRunResponse, error) {
	m, err := a.Store.Monitor(req.Monitor)
	if err != nil {
		return nil, toStatus(err)
	}
	var names []string
	if req.Checkpoint != "" {
		if !slices.Contains(m.Checkpoints, req.Checkpoint) {
			return nil, status.Errorf(codes.InvalidArgument, "checkpoint: monitor %q does not run from checkpoint %q (it runs from %s)", m.Name, req.Checkpoint, strings.Join(m.Checkpoints, ", "))
		}
		names = []string{req.Checkpoint}
	}
	runs, err := a.Dispatcher.Dispatch(m, names, true)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.TriggerRunResponse{Runs: runs}, nil
}

// GetRun returns a run with its result when done.
func (a *Admin) GetRun(_ context.Context, req *pb.GetRunRequest) (*pb.Run, error) {
	r, err := a.Store.Run(req.RunId)
	return r, toStatus(err)
}

// GetPlatformCertificate returns the platform certificate's public part.
func (a *Admin) GetPlatformCertificate(context.Context, *pb.GetPlatformCertificateRequest) (*pb.GetPlatformCertificateResponse, error) {
	if a.Platform == nil {
		return &pb.GetPlatformCertificateResponse{}, nil
	}
	return &pb.GetPlatformCertificateResponse{Configured: true, CertificatePem: a.Platform.PEM, Info: a.Platform.Info}, nil
}

func optionalTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// scheduleChanged updates the schedule after m changed: one entry when the server can, else a
// full reload.
func (a *Admin) scheduleChanged(m *pb.Monitor) {
	if a.Upsert != nil {
		a.Upsert(m)
		return
	}
	a.Resync()
}

// maxAuditLimit caps one ListAuditEntries answer; defaultAuditLimit is what 0 asks for.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 10000
)

// ListAuditEntries returns the newest audit entries that match the request, oldest first.
func (a *Admin) ListAuditEntries(ctx context.Context, req *pb.ListAuditEntriesRequest) (*pb.ListAuditEntriesResponse, error) {
	limit := int(req.Limit)
	switch {
	case limit == 0:
		limit = defaultAuditLimit
	case limit > maxAuditLimit:
		return nil, status.Errorf(codes.InvalidArgument, "limit: %d is more than %d entries; narrow the query with since, actor, action or target", limit, maxAuditLimit)
	}
	f := store.AuditFilter{Actor: req.Actor, Action: req.Action, Target: req.Target}
	if req.Since != nil {
		if err := req.Since.CheckValid(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "since: %v", err)
		}
		f.Since = req.Since.AsTime()
	}
	entries, truncated, err := a.Store.AuditEntries(ctx, f, limit)
	if ctx.Err() != nil {
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.ListAuditEntriesResponse{Truncated: truncated}
	for _, e := range entries {
		resp.Entries = append(resp.Entries, &pb.AuditEntry{Sequence: e.Seq, Time: timestamppb.New(e.Time),
			Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail})
	}
	return resp, nil
}
