package checkpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	"github.com/lookout-synthetics/lookout/internal/certs"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/sealing"
)

const platformItem = "platform"

// fetch claims the run and returns its unsealed secrets. An error means the run is not ours to run
// (another instance claimed it, or it is no longer live); it is logged, not reported.
func (a *Agent) fetch(ctx context.Context, req *pb.RunRequest) (*pb.RunSecrets, error) {
	resp, err := a.client.FetchRunSecrets(ctx, &pb.FetchRunSecretsRequest{RunId: req.RunId, Attempt: req.Attempt})
	if err != nil {
		a.log.Warn("run not taken", "run", req.RunId, "err", err)
		return nil, err
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
	return secrets, err
}

func classOf(err error) pb.ErrorClass {
	if errors.Is(err, errPlatformOffered) {
		return pb.ErrorClass_ERROR_CLASS_POLICY
	}
	return pb.ErrorClass_ERROR_CLASS_SECRET
}

// resolve turns unsealed material into what the runner uses. A private agent refuses platform
// material outright: it is discarded, and the run fails with a policy error.
func (a *Agent) resolve(s *pb.RunSecrets) (*runner.Secrets, error) {
	out := &runner.Secrets{Certificates: map[string]*tls.Certificate{}, Credentials: map[string]runner.Credential{}}
	for _, sec := range s.Secrets {
		if sec.ItemId == platformItem && a.id.Private() {
			return nil, errPlatformOffered
		}
		switch v := sec.Value.(type) {
		case *pb.RunSecret_Certificate:
			c, err := a.certs.get(sec, v.Certificate)
			if err != nil {
				return nil, fmt.Errorf("client certificate %q could not be loaded: %w", sec.Name, err)
			}
			if sec.ItemId == platformItem {
				out.Platform = c
			} else {
				out.Certificates[sec.Name] = c
			}
		case *pb.RunSecret_Credentials:
			out.Credentials[sec.Name] = runner.Credential{Username: v.Credentials.Username, Password: v.Credentials.Password}
		default:
			addValueOrFile(out, sec)
		}
	}
	return out, nil
}

// certCache keeps parsed certificates by (item, version), in memory only.
type certCache struct {
	mu sync.Mutex
	m  map[string]*tls.Certificate
}

func newCertCache() *certCache { return &certCache{m: map[string]*tls.Certificate{}} }

func (c *certCache) get(sec *pb.RunSecret, mat *pb.CertificateMaterial) (*tls.Certificate, error) {
	key := fmt.Sprintf("%s@%d", sec.ItemId, sec.Version)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cert, ok := c.m[key]; ok {
		return cert, nil
	}
	cert, err := certs.TLSCertificate(mat.ChainDer, mat.Pkcs8Key)
	if err != nil {
		return nil, err
	}
	c.m[key] = &cert
	return &cert, nil
}

func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

func timestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
