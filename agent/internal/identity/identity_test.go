package identity

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/pki"
	"github.com/lookout-synthetics/lookout/internal/sealing"
)

// enrolled saves an identity the way Enroll does after the controller answered, with a
// certificate the CA issued for a fresh key, and returns the state dir and the CA.
func enrolled(t *testing.T, kind pb.CheckpointKind) (string, *pki.CA) {
	t.Helper()
	caDir := t.TempDir()
	ca, _, err := pki.LoadOrCreateCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(caDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der := issue(t, ca, key)
	sk, err := sealing.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "state") // not there yet: save makes it
	resp := &pb.EnrollResponse{AgentId: "ag_1", CheckpointId: "cp_1", CheckpointName: "paris", Kind: kind,
		NatsUrl: "tls://127.0.0.1:4222", RunSubject: "lookout.run.cp_1", QueueGroup: "cp_1",
		CertificatePem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), CaPem: caPEM}
	if _, err := save(EnrollOptions{Controller: "127.0.0.1:7443", StateDir: dir}, resp, key, sk); err != nil {
		t.Fatalf("saving the identity: %v", err)
	}
	return dir, ca
}

// issue has the CA sign an agent certificate for key, valid for a day.
func issue(t *testing.T, ca *pki.CA, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.IssueAgentCertificate(csr, pki.Identity{AgentID: "ag_1", CheckpointID: "cp_1", Kind: "private"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestSaveThenLoad: what enrollment saved loads back whole: the controller's answer, the key pair,
// the CA the controller is verified with, and the sealing key.
func TestSaveThenLoad(t *testing.T) {
	t.Parallel()
	dir, ca := enrolled(t, pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	id, err := Load(dir)
	if err != nil {
		t.Fatalf("loading what was saved: %v", err)
	}
	got := []string{id.AgentID, id.CheckpointID, id.CheckpointName, id.Kind, id.NATSURL, id.RunSubject, id.QueueGroup, id.Controller}
	want := []string{"ag_1", "cp_1", "paris", "public", "tls://127.0.0.1:4222", "lookout.run.cp_1", "cp_1", "127.0.0.1:7443"}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("agent id, checkpoint id, name, kind, NATS URL, run subject, queue group, controller (-got +want):\n%s", d)
	}
	if id.Private() {
		t.Error("an agent of a public checkpoint says it is private")
	}
	leaf, err := id.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: id.CAPool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the loaded certificate does not verify against the loaded CA: %v", err)
	}
	if !id.CAPool.Equal(ca.Pool()) {
		t.Error("the loaded CA pool is not the controller's CA")
	}
	if id.SealingKey == nil || len(id.SealingKey.PublicKey().Bytes()) != 32 {
		t.Error("no X25519 sealing key was loaded")
	}
}

// TestPrivateUnlessPublic: any kind but "public" is a private checkpoint, so an agent never
// takes the public path by mistake.
func TestPrivateUnlessPublic(t *testing.T) {
	t.Parallel()
	dir, _ := enrolled(t, pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	id, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id.Kind != "private" || !id.Private() {
		t.Errorf("kind %q, Private() = %v; want private", id.Kind, id.Private())
	}
	if (&Identity{Kind: ""}).Private() != true {
		t.Error("an identity with no kind says it is public")
	}
}

// TestStateFilePermissions: the keys are readable by the agent's user alone; the state dir too.
func TestStateFilePermissions(t *testing.T) {
	t.Parallel()
	dir, _ := enrolled(t, pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	want := map[string]fs.FileMode{fileKey: 0o600, fileSealing: 0o600, fileCert: 0o644, fileCA: 0o644, fileMeta: 0o644, ".": 0o700}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// The umask may take bits away, never add them.
		if got := fi.Mode().Perm(); got&^mode != 0 || (mode&0o600 == 0o600 && got&0o600 != 0o600) {
			t.Errorf("%s: mode %v, want %v", name, got, mode)
		}
	}
}

// TestLoadNotEnrolled: an empty or missing state dir is os.ErrNotExist, which the agent reads as
// "enroll first".
func TestLoadNotEnrolled(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		if _, err := Load(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Load(%s) = %v, want os.ErrNotExist", dir, err)
		}
	}
}

// TestLoadDamagedState: each damaged or missing state file fails Load with an error that names the
// state dir and the file, never a bare parser message.
func TestLoadDamagedState(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		file string
		data []byte // nil removes the file
		want string
	}{
		"identity.json not JSON":     {fileMeta, []byte("{agent_id: ag_1"), "identity.json is damaged"},
		"identity.json another type": {fileMeta, []byte(`{"agent_id": 7}`), "identity.json is damaged"},
		"client.pem garbage":         {fileCert, []byte("not a certificate"), "client certificate"},
		"client.pem missing":         {fileCert, nil, "client certificate"},
		"client.key another key":     {fileKey, otherKeyPEM(t), "client certificate"},
		"ca.pem no certificate":      {fileCA, []byte("-----BEGIN NOTHING-----\n-----END NOTHING-----\n"), "ca.pem holds no certificate"},
		"ca.pem missing":             {fileCA, nil, "ca.pem"},
		"sealing.key short":          {fileSealing, []byte("short"), "sealing key"},
		"sealing.key missing":        {fileSealing, nil, "sealing.key"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir, _ := enrolled(t, pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
			path := filepath.Join(dir, tc.file)
			var err error
			if tc.data == nil {
				err = os.Remove(path)
			} else {
				err = os.WriteFile(path, tc.data, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(dir)
			if err == nil {
				t.Fatalf("Load accepted a state dir whose %s is damaged", tc.file)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "state dir "+dir+": ") || !strings.Contains(msg, tc.want) {
				t.Errorf("Load: %q; want it to start with %q and say %q", msg, "state dir "+dir+": ", tc.want)
			}
			if errors.Is(err, os.ErrNotExist) && tc.file == fileMeta {
				t.Error("a damaged identity.json reads as not enrolled: the agent would try to enroll again")
			}
		})
	}
}

func otherKeyPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestLoadFinishesAnInterruptedRenewal: a renewal that stopped between its two renames leaves the
// new key in place and the new certificate under its temporary name; Load finishes the swap and
// returns the new pair.
func TestLoadFinishesAnInterruptedRenewal(t *testing.T) {
	t.Parallel()
	dir, ca := enrolled(t, pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der := issue(t, ca, key)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(filepath.Join(dir, fileKey), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fileCert+renewSuffix), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := Load(dir)
	if err != nil {
		t.Fatalf("Load after an interrupted renewal: %v", err)
	}
	if !bytes.Equal(id.Certificate.Certificate[0], der) {
		t.Error("Load did not return the renewed certificate")
	}
	if _, err := os.Stat(filepath.Join(dir, fileCert+renewSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary certificate is still there (%v): the swap was not finished", err)
	}
	if again, err := Load(dir); err != nil || !bytes.Equal(again.Certificate.Certificate[0], der) {
		t.Errorf("loading once more: %v; want the renewed certificate from client.pem", err)
	}
}

// renewer answers RenewCertificate over real gRPC on loopback with a certificate from ca.
type renewer struct {
	pb.UnimplementedAgentServiceServer
	ca *pki.CA
}

func (r *renewer) RenewCertificate(_ context.Context, req *pb.RenewCertificateRequest) (*pb.RenewCertificateResponse, error) {
	der, err := r.ca.IssueAgentCertificate(req.CsrDer, pki.Identity{AgentID: "ag_1", CheckpointID: "cp_1", Kind: "private"}, 48*time.Hour)
	if err != nil {
		return nil, err
	}
	return &pb.RenewCertificateResponse{CertificatePem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

func renewClient(t *testing.T, ca *pki.CA) pb.AgentServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterAgentServiceServer(srv, &renewer{ca: ca})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewAgentServiceClient(cc)
}

// TestRenewSavesANewKeyPair: a renewal presents the new certificate at once, for a new key, and
// leaves it in the state dir (key 0600, no temporary files) for the next start.
func TestRenewSavesANewKeyPair(t *testing.T) {
	t.Parallel()
	dir, ca := enrolled(t, pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	id, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := id.Leaf()
	notAfter, err := id.Renew(t.Context(), renewClient(t, ca))
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	now, _ := id.Leaf()
	if !now.NotAfter.Equal(notAfter) || now.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Errorf("after Renew the current certificate is serial %v expiring %s; want a new one expiring %s", now.SerialNumber, now.NotAfter, notAfter)
	}
	if now.PublicKey.(*ecdsa.PublicKey).Equal(old.PublicKey) {
		t.Error("the renewed certificate certifies the old key")
	}
	presented, err := id.TLSConfig().GetClientCertificate(nil)
	if err != nil || !bytes.Equal(presented.Certificate[0], now.Raw) {
		t.Errorf("new connections present another certificate than the renewed one (%v)", err)
	}
	reloaded, err := Load(dir)
	if err != nil {
		t.Fatalf("loading after the renewal: %v", err)
	}
	if !bytes.Equal(reloaded.Certificate.Certificate[0], now.Raw) {
		t.Error("the state dir does not hold the renewed certificate")
	}
	if fi, err := os.Stat(filepath.Join(dir, fileKey)); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("the renewed key's file: %v (mode %v), want readable by its owner alone", err, fi.Mode().Perm())
	}
	for _, f := range []string{fileKey + renewSuffix, fileCert + renewSuffix} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was left behind (%v)", f, err)
		}
	}
}

// TestRenewRefusesACertificateFromAnotherCA: a certificate the controller's CA did not issue is
// refused, and the identity and the state dir keep the old one.
func TestRenewRefusesACertificateFromAnotherCA(t *testing.T) {
	t.Parallel()
	dir, _ := enrolled(t, pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	id, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, fileCert))
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := id.Renew(t.Context(), renewClient(t, other)); err == nil || !strings.Contains(err.Error(), "not from the controller's CA") {
		t.Fatalf("Renew with a certificate from another CA: %v, want a refusal", err)
	}
	if id.Current() != &id.Certificate {
		t.Error("the refused certificate became the current one")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, fileCert)); !bytes.Equal(after, before) {
		t.Error("the refused certificate was written to the state dir")
	}
}

// TestEnrollRefusesABadCAFile: without a PEM certificate to verify the controller with, enrollment
// stops before generating keys or dialling, naming the flag to fix.
func TestEnrollRefusesABadCAFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	_, err := Enroll(t.Context(), EnrollOptions{Controller: "127.0.0.1:1", Token: "t", CAPEM: []byte("not PEM"), StateDir: dir})
	if err == nil || !strings.Contains(err.Error(), "--ca-file") {
		t.Fatalf("Enroll with a CA file that is not PEM: %v, want an error naming --ca-file", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state dir was created (%v) although enrollment never started", err)
	}
}
