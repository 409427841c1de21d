package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

const itemsMonitor = `name: items
interval: 1h
timeout: 10s
checkpoints: [eu-west]
secret_variables: {key: api-key}
steps:
  - name: raw
    request:
      method: POST
      url: "https://127.0.0.1:1/raw"
      headers: {X-Api-Key: "{{key}}"}
      body_file: payload
  - name: upload
    request:
      method: POST
      url: "https://127.0.0.1:1/upload"
      multipart:
        - {name: doc, file: payload}
`

// TestAdminSecretsAndFiles adds a secret and a file over real gRPC, applies a monitor using
// them, and checks used_by, the refusals (wrong type, delete in use) and that no read, list or
// add response carries the secret value or the file content in any encoding.
func TestAdminSecretsAndFiles(t *testing.T) {
	c := startController(t)
	ctx := t.Context()
	const secretValue = "sk_live_Very-Secret-9931"
	content := []byte("%PDF-1.7 file-Content-Only-In-The-Vault \x00\x01\x02")
	var reads []proto.Message
	read := func(what string, m proto.Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		reads = append(reads, m)
	}
	added, err := c.admin.AddSecret(ctx, &pb.AddSecretRequest{Name: "api-key", Value: secretValue})
	read("AddSecret", added, err)
	file, err := c.admin.AddFile(ctx, &pb.AddFileRequest{Name: "payload", Filename: "doc.pdf", Content: content})
	read("AddFile", file, err)
	if fi := file.GetItem().GetFile(); fi.GetContentType() != "application/pdf" || fi.GetSize() != int64(len(content)) || fi.GetFilename() != "doc.pdf" {
		t.Errorf("AddFile item file info = %v, want doc.pdf, application/pdf (sniffed), %d bytes", fi, len(content))
	}
	replaced, err := c.admin.ReplaceSecret(ctx, &pb.AddSecretRequest{Name: "api-key", Value: secretValue + "-v2"})
	read("ReplaceSecret", replaced, err)
	if replaced.GetItem().GetVersion() != 2 {
		t.Errorf("ReplaceSecret version = %d, want 2", replaced.GetItem().GetVersion())
	}
	rf, err := c.admin.ReplaceFile(ctx, &pb.AddFileRequest{Name: "payload", Content: content})
	read("ReplaceFile", rf, err)
	if rf.GetItem().GetFile().GetFilename() != "doc.pdf" || rf.GetItem().GetVersion() != 2 {
		t.Errorf("ReplaceFile item = %v", rf.GetItem())
	}
	_, err = c.admin.AddSecret(ctx, &pb.AddSecretRequest{Name: "empty"})
	wantCode(t, "AddSecret with no value", err, codes.InvalidArgument, "secret value is empty")
	_, err = c.admin.AddFile(ctx, &pb.AddFileRequest{Name: "big", Content: make([]byte, 1<<20+1)})
	wantCode(t, "AddFile over 1 MiB", err, codes.InvalidArgument, "at most 1024 KiB")

	c.enroll(t, "eu-west", "private", "e1")
	ca := testutil.NewCA(t, "items CA")
	archive := ca.Issue(t, "items-client", false).PKCS12(t, ca, "pw")
	if _, err := c.admin.AddCertificate(ctx, &pb.AddCertificateRequest{Name: "a-cert", Archive: archive, Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(itemsMonitor, "body_file: payload", "body_file: a-cert", 1)
	_, err = c.admin.ApplyMonitor(ctx, &pb.ApplyMonitorRequest{Source: []byte(wrong), Filename: "items.yaml"})
	wantCode(t, "body_file naming a certificate", err, codes.FailedPrecondition,
		`steps[0].request.body_file: vault item "a-cert" is a certificate, not a file: body_file needs a file item (add one with `+"`lookout-controller vault add-file`"+`) (line 12)`)
	if _, err := c.admin.AddCredentials(ctx, &pb.AddCredentialsRequest{Name: "login", Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	creds := strings.Replace(itemsMonitor, "body_file: payload", "body_file: login", 1)
	_, err = c.admin.ApplyMonitor(ctx, &pb.ApplyMonitorRequest{Source: []byte(creds), Filename: "items.yaml"})
	wantCode(t, "body_file naming a credential set", err, codes.FailedPrecondition,
		`steps[0].request.body_file: vault item "login" is a credential set, not a file`)
	if _, err := c.admin.DeleteVaultItem(ctx, &pb.DeleteVaultItemRequest{Name: "login"}); err != nil {
		t.Fatal(err)
	}
	missing := strings.Replace(itemsMonitor, "{key: api-key}", "{key: nope}", 1)
	_, err = c.admin.ApplyMonitor(ctx, &pb.ApplyMonitorRequest{Source: []byte(missing), Filename: "items.yaml"})
	wantCode(t, "secret variable naming a missing item", err, codes.FailedPrecondition,
		`secret_variables.key: vault item "nope" does not exist; add it with `+"`lookout-controller vault add-secret`"+` first (line 5)`)
	if _, err := c.admin.ApplyMonitor(ctx, &pb.ApplyMonitorRequest{Source: []byte(itemsMonitor), Filename: "items.yaml"}); err != nil {
		t.Fatalf("ApplyMonitor: %v", err)
	}

	list, err := c.admin.ListVaultItems(ctx, &pb.ListVaultItemsRequest{})
	read("ListVaultItems", list, err)
	usedBy := map[string][]string{}
	for _, it := range list.GetItems() {
		usedBy[it.Name] = it.UsedBy
		for _, key := range []string{it.Name, it.Id} {
			got, err := c.admin.GetVaultItem(ctx, &pb.GetVaultItemRequest{Name: key})
			read("GetVaultItem "+key, got, err)
			if !cmp.Equal(got.UsedBy, it.UsedBy) {
				t.Errorf("GetVaultItem %s used_by = %v, list says %v", key, got.UsedBy, it.UsedBy)
			}
		}
	}
	if diff := cmp.Diff(usedBy, map[string][]string{"api-key": {"items"}, "payload": {"items"}, "a-cert": nil}); diff != "" {
		t.Errorf("used_by (-got +want):\n%s", diff)
	}
	mon, err := c.admin.GetMonitor(ctx, &pb.GetMonitorRequest{Name: "items"})
	read("GetMonitor", mon, err)
	mons, err := c.admin.ListMonitors(ctx, &pb.ListMonitorsRequest{})
	read("ListMonitors", mons, err)

	for _, name := range []string{"api-key", "payload"} {
		_, err = c.admin.DeleteVaultItem(ctx, &pb.DeleteVaultItemRequest{Name: name})
		wantCode(t, "deleting "+name+" while used", err, codes.FailedPrecondition, `is used by monitor(s) items`)
	}

	secrets := map[string][]byte{}
	for _, v := range []string{secretValue, secretValue + "-v2"} {
		secrets["secret "+v] = []byte(v)
		secrets["secret (base64) "+v] = []byte(base64.StdEncoding.EncodeToString([]byte(v)))
	}
	secrets["file content"] = content[:20]
	secrets["file content (base64)"] = []byte(base64.StdEncoding.EncodeToString(content)[:24])
	secrets["file content (hex)"] = []byte(hex.EncodeToString(content[:16]))
	// The detector must see the file where it is: in the upload request.
	upload, _ := protojson.Marshal(&pb.AddFileRequest{Name: "payload", Content: content})
	if !bytes.Contains(upload, secrets["file content (base64)"]) {
		t.Fatal("the detector misses the file content in an upload request")
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
