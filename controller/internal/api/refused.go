package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"google.golang.org/grpc/peer"

	"github.com/lookout-synthetics/lookout/controller/internal/refusals"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Audit actions of refused calls made by people and by agents not enrolled yet. Each entry names
// its source (the token's name when the controller knows it, never its secret, and the peer's
// host) and never holds what was presented: no token, no password, no monitor file.
const (
	actionDeniedToken      = "denied_token"              // an API call with a missing, unknown, revoked or too narrow token
	actionDeniedEnroll     = "denied_enroll"             // an enrollment with an unknown, expired or used-up token
	actionRejectedApply    = "rejected_monitor_apply"    // a monitor file that is invalid or names what does not exist
	actionRejectedPassword = "rejected_archive_password" // a vault archive whose password is incorrect
)

// refusalLog writes refusals to the audit log, merged per source and kind by Limiter so that a
// caller repeating a refused call cannot flood the log; with no Limiter, one entry each.
type refusalLog struct {
	Limiter *refusals.Limiter
	Store   *store.Store
	Logger  *slog.Logger
}

// record writes the refusal of action by who, calling from ctx's peer.
func (l refusalLog) record(ctx context.Context, who, action, target, detail string) {
	l.recordFrom(peerHost(ctx), who, action, target, detail)
}

// recordFrom writes the refusal of action by who, calling from host.
func (l refusalLog) recordFrom(host, who, action, target, detail string) {
	actor := who + " from " + host
	target, detail = clip(target, auditTargetMax), clip(detail, auditDetailMax)
	if l.Limiter != nil {
		l.Limiter.Refused(actor, action, target, detail)
		return
	}
	if err := l.Store.Audit(store.AuditEntry{Actor: actor, Action: action, Target: target, Detail: detail}); err != nil && l.Logger != nil {
		l.Logger.Error("writing audit entry", "action", action, "err", err)
	}
}

// peerHost is the caller's address without its port: every connection has a port of its own, and
// the refusals of one host merge.
func peerHost(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return hostOf("")
	}
	return hostOf(p.Addr.String())
}

// hostOf is addr without its port.
func hostOf(addr string) string {
	if addr == "" {
		return "an unknown address"
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// fieldPaths says where a monitor file was wrong without repeating what it said there (a value
// may be a secret): "3 problems: steps[0].request.url, interval, …".
func fieldPaths(err error) string {
	var fields pb.FieldErrors
	if !errors.As(err, &fields) || len(fields) == 0 {
		return "not a valid monitor file"
	}
	paths := make([]string, 0, len(fields))
	for _, f := range fields {
		paths = append(paths, cmp.Or(f.Path, "(file)"))
	}
	return fmt.Sprintf("%d problem(s): %s", len(fields), strings.Join(paths, ", "))
}

// rejectedApply audits a monitor file that was not applied: its name (m, when it parsed), where
// it was wrong, and who sent it.
func (a *Admin) rejectedApply(ctx context.Context, req *pb.ApplyMonitorRequest, m *pb.Monitor, err error) {
	target := cmp.Or(req.Filename, "monitor file")
	if m != nil && m.Name != "" {
		target = "monitor " + m.Name
	}
	a.refusals().record(ctx, Actor(ctx), actionRejectedApply, target, fieldPaths(err))
}

// rejectedArchive audits a certificate archive refused for its password, naming the item only.
func (a *Admin) rejectedArchive(ctx context.Context, item string, err error) {
	if errors.Is(err, vault.ErrWrongPassword) {
		a.refusals().record(ctx, Actor(ctx), actionRejectedPassword, "vault item "+item, err.Error())
	}
}

func (a *Admin) refusals() refusalLog {
	return refusalLog{Limiter: a.Refusals, Store: a.Store, Logger: a.Logger}
}
