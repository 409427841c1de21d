package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestAdminReadsCarryNoSecrets uploads a certificate and credentials, applies monitors using both,
// then calls every vault and monitor read RPC over real gRPC and looks for the archive, its
// password, the credentials password and the private key (DER, PEM, base64, hex) in every
// response, in wire, JSON and text encodings.
func TestAdminReadsCarryNoSecrets(t *testing.T) {
	c := startController(t)
	ca := testutil.NewCA(t, "reads CA")
	leaf := ca.Issue(t, "reads-client", false)
	const archivePassword = "p12-Secret-0815"
	archive := leaf.PKCS12(t, ca, archivePassword)
	if _, err := c.admin.AddCertificate(t.Context(), &pb.AddCertificateRequest{Name: "client-cert", Archive: archive, Password: archivePassword}); err != nil {
		t.Fatal(err)
	}
	c.addCredentials(t)
	c.enroll(t, "eu-west", "private", "e1")
	c.applyMonitor(t, "orders", "eu-west")
	src := `name: mtls
interval: 1h
timeout: 10s
checkpoints: [eu-west]
steps:
  - name: hello
    request:
      url: "https://127.0.0.1:1/hello"
      client_certificate: {source: vault, item: client-cert}
`
	if _, err := c.admin.ApplyMonitor(t.Context(), &pb.ApplyMonitorRequest{Source: []byte(src), Filename: "mtls.yaml"}); err != nil {
		t.Fatal(err)
	}

	key := leaf.PKCS8()
	scalar, err := leaf.Key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})
	secrets := map[string][]byte{
		"archive":              archive,
		"archive (base64)":     []byte(base64.StdEncoding.EncodeToString(archive)),
		"archive password":     []byte(archivePassword),
		"credentials password": []byte(apiPassword),
		"key (PKCS#8 DER)":     key,
		"key (PEM)":            keyPEM,
		"key (base64)":         []byte(base64.StdEncoding.EncodeToString(key)),
		"key (hex)":            []byte(hex.EncodeToString(key)),
		"key scalar":           scalar,
	}

	// The detector itself must see secrets where they are: in the upload request.
	upload, _ := proto.Marshal(&pb.AddCertificateRequest{Name: "client-cert", Archive: archive, Password: archivePassword})
	if !bytes.Contains(upload, secrets["archive"]) || !bytes.Contains(upload, secrets["archive password"]) {
		t.Fatal("the secret detector misses the archive or its password in an upload request")
	}

	ctx := t.Context()
	var reads []proto.Message
	add := func(what string, m proto.Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		reads = append(reads, m)
	}
	list, err := c.admin.ListVaultItems(ctx, &pb.ListVaultItemsRequest{})
	add("ListVaultItems", list, err)
	if len(list.GetItems()) != 2 {
		t.Fatalf("ListVaultItems: %d items, want 2", len(list.GetItems()))
	}
	for _, it := range list.Items {
		for _, key := range []string{it.Name, it.Id} {
			got, err := c.admin.GetVaultItem(ctx, &pb.GetVaultItemRequest{Name: key})
			add("GetVaultItem "+key, got, err)
		}
	}
	mons, err := c.admin.ListMonitors(ctx, &pb.ListMonitorsRequest{})
	add("ListMonitors", mons, err)
	if len(mons.GetMonitors()) != 2 {
		t.Fatalf("ListMonitors: %d monitors, want 2", len(mons.GetMonitors()))
	}
	for _, m := range mons.Monitors {
		got, err := c.admin.GetMonitor(ctx, &pb.GetMonitorRequest{Name: m.Name})
		add("GetMonitor "+m.Name, got, err)
	}

	for _, m := range reads {
		wire, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := protojson.Marshal(m)
		txt, _ := prototext.Marshal(m)
		for enc, b := range map[string][]byte{"wire": wire, "json": js, "text": txt} {
			for what, s := range secrets {
				if bytes.Contains(b, s) {
					t.Errorf("%T (%s encoding) contains the %s", m, enc, what)
				}
			}
		}
	}
}
