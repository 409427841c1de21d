package dispatcher_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestDispatcherReferencesSecretsAndFiles checks that a run's SecretRefs name the secret and
// file items its monitor uses (secret variables, body_file, multipart file, ca_bundle_file),
// with their type and current version, and that the items are checked again at dispatch.
func TestDispatcherReferencesSecretsAndFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.checkpoint(t, "site-1", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	if _, err := f.vault.AddSecret("api-key", "", "k1"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"body", "upload", "ca"} {
		if _, err := f.vault.AddFile(name, "", "", "", []byte(name+" content")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.vault.ReplaceFile("upload", "", "", "", []byte("second version")); err != nil {
		t.Fatal(err)
	}
	m := &pb.Monitor{Id: "mon_items", Name: "items", Version: 1, Timeout: durationpb.New(10 * time.Second), Checkpoints: []string{"site-1"},
		SecretVariables: map[string]string{"key": "api-key"},
		Steps: []*pb.Step{
			{Name: "raw", Request: &pb.HttpRequest{Method: "POST", Url: "https://127.0.0.1:8443/", BodyFile: "body", Tls: &pb.TlsOptions{CaBundleFile: "ca"}}},
			{Name: "upload", Request: &pb.HttpRequest{Method: "POST", Url: "https://127.0.0.1:8443/",
				Multipart: []*pb.FormField{{Name: "a", File: "upload"}, {Name: "b", File: "body"}}}},
		}}
	runs, err := f.d.Dispatch(m, nil, true)
	if err != nil || len(runs) != 1 || runs[0].GetResult() != nil {
		t.Fatalf("Dispatch = %v, %v; want one run sent out", runs, err)
	}
	type ref struct {
		Name    string
		Version int64
		Type    pb.VaultItemType
	}
	var got []ref
	for _, r := range runs[0].Secrets {
		got = append(got, ref{r.Name, r.Version, r.Type})
	}
	want := []ref{
		{"api-key", 1, pb.VaultItemType_VAULT_ITEM_TYPE_SECRET},
		{"body", 1, pb.VaultItemType_VAULT_ITEM_TYPE_FILE},
		{"ca", 1, pb.VaultItemType_VAULT_ITEM_TYPE_FILE},
		{"upload", 2, pb.VaultItemType_VAULT_ITEM_TYPE_FILE},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("run secrets (-got +want):\n%s", diff)
	}
	msg, err := f.sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no run request published: %v", err)
	}
	req := &pb.RunRequest{}
	if err := proto.Unmarshal(msg.Data, req); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(msg.Data), "k1") || strings.Contains(string(msg.Data), "second version") {
		t.Error("the run request on NATS carries a secret value or file content")
	}

	// The item was deleted and a secret took its name since the monitor was applied.
	if err := f.vault.Delete("ca"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.vault.AddSecret("ca", "", "not a file"); err != nil {
		t.Fatal(err)
	}
	runs, err = f.d.Dispatch(m, nil, true)
	if err != nil || len(runs) != 1 {
		t.Fatalf("Dispatch = %v, %v", runs, err)
	}
	res := runs[0].GetResult()
	wantMsg := `step 1 ("raw") needs vault item "ca" as a file, but it is a secret now: apply the monitor again after fixing steps[0].request.tls.ca_bundle_file`
	if res.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_SECRET || res.GetMessage() != wantMsg {
		t.Errorf("run with a retyped item: class %v message %q, want %q", res.GetErrorClass(), res.GetMessage(), wantMsg)
	}

	if err := f.vault.Delete("api-key"); err != nil {
		t.Fatal(err)
	}
	runs, err = f.d.Dispatch(m, nil, true)
	if err != nil || len(runs) != 1 {
		t.Fatalf("Dispatch = %v, %v", runs, err)
	}
	if got := runs[0].GetResult().GetMessage(); !strings.HasPrefix(got, `secret variable key needs vault item "api-key": `) {
		t.Errorf("run with a deleted secret: message %q", got)
	}
}

func TestDispatcherCapsFileBytesPerRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.checkpoint(t, "site-1", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	var parts []*pb.FormField
	for _, name := range []string{"f1", "f2", "f3", "f4"} {
		if _, err := f.vault.AddFile(name, "", "", "", make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, &pb.FormField{Name: name, File: name})
	}
	m := &pb.Monitor{Id: "mon_big", Name: "big", Version: 1, Timeout: durationpb.New(10 * time.Second), Checkpoints: []string{"site-1"},
		Steps: []*pb.Step{{Name: "upload", Request: &pb.HttpRequest{Method: "POST", Url: "https://127.0.0.1:8443/", Multipart: parts}},
			{Name: "again", Request: &pb.HttpRequest{Method: "POST", Url: "https://127.0.0.1:8443/", BodyFile: "f1"}}}}
	m.Steps[0].Request.Multipart = parts[:3] // three files, one used twice: within the cap
	runs, err := f.d.Dispatch(m, nil, true)
	if err != nil || len(runs) != 1 || runs[0].GetResult() != nil {
		t.Fatalf("Dispatch with 3 MiB of files = %v, %v; want the run sent out", runs, err)
	}
	m.Steps[0].Request.Multipart = parts
	runs, err = f.d.Dispatch(m, nil, true)
	if err != nil || len(runs) != 1 {
		t.Fatalf("Dispatch = %v, %v", runs, err)
	}
	if got := runs[0].GetResult().GetMessage(); !strings.Contains(got, "the run needs 4194304 bytes of vault files; a run may use at most 3 MiB") {
		t.Errorf("run over the file cap: message %q", got)
	}
}
