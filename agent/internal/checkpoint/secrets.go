package checkpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/sealing"
)

const platformItem = "platform"

// fetch claims the run and gathers the secrets it names: what the cache holds at the run's
// versions, and what the controller sends for the rest, unsealed and cached. An error means the run
// is not ours to run (another instance claimed it, or it is no longer live) and is only logged; a
// *materialError means the run is ours but its material is unusable, and the run reports it.
func (a *Agent) fetch(ctx context.Context, req *pb.RunRequest) (held, error) {
	h, have := a.cache.take(req.Secrets)
	resp, err := a.claim(ctx, &pb.FetchRunSecretsRequest{RunId: req.RunId, Attempt: req.Attempt, Have: have})
	if err != nil {
		a.log.Warn("run not taken", "run", req.RunId, "err", err)
		return nil, err
	}
	if len(resp.Sealed) == 0 {
		return h, nil
	}
	plain, err := sealing.Open(a.id.SealingKey, sealing.Info(a.id.AgentID, req.RunId, req.Attempt), resp.Sealed)
	if err != nil {
		a.log.Error("run secrets did not unseal", "run", req.RunId, "err", err)
		return nil, err
	}
	if a.o.Tap != nil {
		a.o.Tap("unsealed:"+req.RunId, plain)
	}
	secrets := &pb.RunSecrets{}
	err = proto.Unmarshal(plain, secrets)
	clear(plain)
	if err != nil {
		return nil, err
	}
	for _, sec := range secrets.Secrets {
		e, err := a.cache.put(sec)
		if err != nil {
			return nil, &materialError{err}
		}
		h[sec.ItemId] = e
	}
	return h, nil
}

// claim calls FetchRunSecrets, retrying while the controller cannot be reached (a connection
// cut, a controller restarting) until the run's deadline: a claim is idempotent for the instance that made it, and
// giving up at the first failure would leave the run to expire as "agent lost".
func (a *Agent) claim(ctx context.Context, req *pb.FetchRunSecretsRequest) (*pb.FetchRunSecretsResponse, error) {
	wait := 100 * time.Millisecond
	for {
		resp, err := a.calls().FetchRunSecrets(ctx, req)
		if err == nil || !unreachable(err) || ctx.Err() != nil {
			return resp, err
		}
		a.log.Debug("claiming the run failed; retrying", "run", req.RunId, "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
			wait = min(wait*2, 2*time.Second)
		}
	}
}

// unreachable is the part of transient that says the controller was not reached (or shed the
// call): worth another claim. An Internal or Unknown answer to a claim (say, a vault item that
// does not decrypt) comes again on every try, each one audited, so it is not retried.
func unreachable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

// materialError is a problem with a claimed run's secrets: the run is reported with it.
type materialError struct{ err error }

func (e *materialError) Error() string { return e.err.Error() }
func (e *materialError) Unwrap() error { return e.err }

func classOf(err error) pb.ErrorClass {
	if errors.Is(err, errPlatformOffered) {
		return pb.ErrorClass_ERROR_CLASS_POLICY
	}
	return pb.ErrorClass_ERROR_CLASS_SECRET
}

// resolve turns the run's material into what the runner uses, by the names the monitor gives.
func (a *Agent) resolve(req *pb.RunRequest, h held) (*runner.Secrets, error) {
	out := &runner.Secrets{Certificates: map[string]*tls.Certificate{}, Credentials: map[string]runner.Credential{}}
	for _, ref := range req.Secrets {
		e, ok := h[ref.ItemId]
		if !ok {
			return nil, fmt.Errorf("vault item %q version %d was not provided for this run", ref.Name, ref.Version)
		}
		sec := e.sec
		if sec.ItemId == platformItem && a.id.Private() {
			return nil, errPlatformOffered
		}
		switch v := sec.Value.(type) {
		case *pb.RunSecret_Certificate:
			if sec.ItemId == platformItem {
				out.Platform = e.cert
			} else {
				out.Certificates[sec.Name] = e.cert
			}
		case *pb.RunSecret_Credentials:
			out.Credentials[sec.Name] = runner.Credential{Username: v.Credentials.Username, Password: v.Credentials.Password}
		default:
			addValueOrFile(out, sec)
		}
	}
	return out, nil
}

func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

func timestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
