// Package identity owns an agent's identity in its state dir: the client key it generated, the
// certificate the controller issued for it, the controller's CA, the X25519 key run secrets are
// sealed to, and what the controller said at enrollment (checkpoint, kind, NATS URL and subject).
//
// Keys are generated here and never leave the state dir; the enrollment token is used once and not
// stored. The checkpoint's kind is whatever the controller put in the certificate.
package identity

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/sealing"
)

// Identity is an enrolled agent.
type Identity struct {
	AgentID        string `json:"agent_id"`
	CheckpointID   string `json:"checkpoint_id"`
	CheckpointName string `json:"checkpoint_name"`
	Kind           string `json:"kind"` // "public" | "private", from the controller
	NATSURL        string `json:"nats_url"`
	RunSubject     string `json:"run_subject"`
	QueueGroup     string `json:"queue_group"`
	Controller     string `json:"controller"`

	Certificate tls.Certificate  `json:"-"` // as loaded; Current has the one in use after a renewal
	CAPool      *x509.CertPool   `json:"-"`
	SealingKey  *ecdh.PrivateKey `json:"-"`

	dir     string
	mu      sync.Mutex
	renewed *tls.Certificate // set by Renew
}

// Current is the client certificate to present now.
func (id *Identity) Current() *tls.Certificate {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.renewed != nil {
		return id.renewed
	}
	return &id.Certificate
}

// Leaf is the current client certificate, parsed.
func (id *Identity) Leaf() (*x509.Certificate, error) {
	c := id.Current()
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("no client certificate")
	}
	return x509.ParseCertificate(c.Certificate[0])
}

// Private reports whether this agent runs a private checkpoint.
func (id *Identity) Private() bool { return id.Kind != "public" }

// TLSConfig is the client TLS configuration for the controller's gRPC and NATS endpoints.
// Each new connection presents the current certificate, so connections made after a renewal use
// the new one.
func (id *Identity) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: id.CAPool, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return id.Current(), nil }}
}

const (
	fileMeta    = "identity.json"
	fileKey     = "client.key"
	fileCert    = "client.pem"
	fileCA      = "ca.pem"
	fileSealing = "sealing.key"
)

// Load reads an identity from dir; os.ErrNotExist when the agent has not enrolled yet.
func Load(dir string) (*Identity, error) {
	meta, err := os.ReadFile(filepath.Join(dir, fileMeta))
	if err != nil {
		return nil, err
	}
	id := &Identity{dir: dir}
	if err := json.Unmarshal(meta, id); err != nil {
		return nil, fmt.Errorf("state dir %s: %s is damaged: %w", dir, fileMeta, err)
	}
	if id.Certificate, err = loadKeyPair(dir); err != nil {
		return nil, fmt.Errorf("state dir %s: client certificate: %w", dir, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, fileCA))
	if err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	id.CAPool = x509.NewCertPool()
	if !id.CAPool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("state dir %s: %s holds no certificate", dir, fileCA)
	}
	raw, err := os.ReadFile(filepath.Join(dir, fileSealing))
	if err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	if id.SealingKey, err = ecdh.X25519().NewPrivateKey(raw); err != nil {
		return nil, fmt.Errorf("state dir %s: sealing key: %w", dir, err)
	}
	return id, nil
}

// EnrollOptions are what enrollment needs.
type EnrollOptions struct {
	Controller   string // host:port of the controller's gRPC endpoint
	Token        string
	CAPEM        []byte // the controller's CA, to verify it on first contact
	StateDir     string
	InstanceName string
	Version      string
}

// Enroll generates keys, redeems the token and writes the identity to the state dir.
func Enroll(ctx context.Context, o EnrollOptions) (*Identity, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(o.CAPEM) {
		return nil, errors.New("--ca-file holds no PEM certificate: pass the controller's ca.pem")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, err
	}
	sk, err := sealing.NewKey()
	if err != nil {
		return nil, err
	}
	resp, err := redeem(ctx, o, pool, &pb.EnrollRequest{Token: o.Token, CsrDer: csr, SealingPublicKey: sk.PublicKey().Bytes(), InstanceName: o.InstanceName, Version: o.Version})
	if err != nil {
		return nil, err
	}
	return save(o, resp, key, sk)
}

func redeem(ctx context.Context, o EnrollOptions, pool *x509.CertPool, req *pb.EnrollRequest) (*pb.EnrollResponse, error) {
	conn, err := grpc.NewClient(o.Controller, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})))
	if err != nil {
		return nil, fmt.Errorf("controller address %q: %w", o.Controller, err)
	}
	defer conn.Close()
	resp, err := pb.NewAgentServiceClient(conn).Enroll(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("enrolling with %s: %w", o.Controller, err)
	}
	return resp, nil
}

func save(o EnrollOptions, r *pb.EnrollResponse, key *ecdsa.PrivateKey, sk *ecdh.PrivateKey) (*Identity, error) {
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	id := &Identity{AgentID: r.AgentId, CheckpointID: r.CheckpointId, CheckpointName: r.CheckpointName,
		Kind: kindName(r.Kind), NATSURL: r.NatsUrl, RunSubject: r.RunSubject, QueueGroup: r.QueueGroup, Controller: o.Controller}
	meta, _ := json.MarshalIndent(id, "", "  ")
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{fileKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
		{fileSealing, sk.Bytes(), 0o600},
		{fileCert, r.CertificatePem, 0o644},
		{fileCA, r.CaPem, 0o644},
		{fileMeta, meta, 0o644}, // last: its presence means the identity is complete
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(o.StateDir, f.name), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("writing %s: %w", f.name, err)
		}
	}
	return Load(o.StateDir)
}

func kindName(k pb.CheckpointKind) string {
	if k == pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC {
		return "public"
	}
	return "private"
}
