package monitorfile

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

const vaultItemsExample = `name: upload
checkpoints: [a]
variables: {base: "https://api.example.com"}
secret_variables: {api_key: partner-key}
steps:
  - name: raw
    request:
      method: PUT
      url: "{{base}}/raw"
      headers: {X-Api-Key: "{{api_key}}"}
      body_file: orders-json
      tls: {ca_bundle_file: partner-ca}
  - name: form
    request:
      method: POST
      url: "{{base}}/upload"
      multipart:
        - {name: note, value: hello}
        - {name: doc, file: orders-json, filename: o.json}
`

func TestParseVaultItemFields(t *testing.T) {
	t.Parallel()
	got, err := Parse([]byte(vaultItemsExample))
	if err != nil {
		t.Fatalf("Parse() error:\n%v", err)
	}
	if diff := cmp.Diff(got.GetSecretVariables(), map[string]string{"api_key": "partner-key"}); diff != "" {
		t.Errorf("secret_variables (-got +want):\n%s", diff)
	}
	raw, form := got.GetSteps()[0].GetRequest(), got.GetSteps()[1].GetRequest()
	if raw.GetBodyFile() != "orders-json" || raw.GetTls().GetCaBundleFile() != "partner-ca" {
		t.Errorf("body_file = %q, ca_bundle_file = %q", raw.GetBodyFile(), raw.GetTls().GetCaBundleFile())
	}
	if f := form.GetMultipart()[1]; f.GetFile() != "orders-json" || f.GetFilename() != "o.json" || f.GetValue() != "" {
		t.Errorf("multipart[1] = %v", f)
	}
	want := []VaultRef{
		{Path: "secret_variables.api_key", Field: "secret_variables", Step: -1, Item: "partner-key", Want: pb.VaultItemType_VAULT_ITEM_TYPE_SECRET},
		{Path: "steps[0].request.body_file", Field: "body_file", Step: 0, Item: "orders-json", Want: pb.VaultItemType_VAULT_ITEM_TYPE_FILE},
		{Path: "steps[0].request.tls.ca_bundle_file", Field: "tls.ca_bundle_file", Step: 0, Item: "partner-ca", Want: pb.VaultItemType_VAULT_ITEM_TYPE_FILE},
		{Path: "steps[1].request.multipart[1].file", Field: "multipart file", Step: 1, Item: "orders-json", Want: pb.VaultItemType_VAULT_ITEM_TYPE_FILE},
	}
	if diff := cmp.Diff(VaultRefs(got), want); diff != "" {
		t.Errorf("VaultRefs (-got +want):\n%s", diff)
	}

	checkRoundTrip(t, &pb.Monitor{Name: "x", Interval: dur(time.Minute), Timeout: dur(30 * time.Second), Checkpoints: []string{"a"},
		SecretVariables: map[string]string{"tok": "t"},
		Steps: []*pb.Step{{Name: "s", Request: &pb.HttpRequest{Method: "POST", Url: "https://e.example/", BodyFile: "b",
			Tls: &pb.TlsOptions{CaBundleFile: "ca"}}},
			{Name: "m", Request: &pb.HttpRequest{Method: "POST", Url: "https://e.example/",
				Multipart: []*pb.FormField{{Name: "f", File: "b", ContentType: "text/csv"}}}}}})
}

func TestParseVaultItemFieldErrors(t *testing.T) {
	t.Parallel()
	const head = "name: x\ncheckpoints: [a]\n"
	const step = "steps:\n  - request:\n      url: https://example.com/\n"
	tests := map[string]struct {
		file string
		want []string
	}{
		"secret variable is also plain": {head + "variables: {token: x}\nsecret_variables: {token: key}\n" + step, []string{
			`secret_variables.token: "token" is also a plain variable (variables.token): a name is either a plain or a secret variable, not both (line 4)`}},
		"secret variable named like an automatic one": {head + "secret_variables: {\"@RandomGuid\": key}\n" + step, []string{
			`secret_variables.@RandomGuid: "@RandomGuid" collides with the automatic variables, whose names start with '@' ({{@RandomGuid}} …): choose a name without '@' (line 3)`}},
		"secret variable bad name": {head + "secret_variables: {\"a b\": key}\n" + step, []string{
			`secret_variables.a b: "a b" is not a valid variable name: start with a letter or '_', then use letters, digits, '_', '.' or '-' (line 3)`}},
		"secret variable without item": {head + "secret_variables: {tok: \"\"}\n" + step, []string{
			`secret_variables.tok: name the vault secret item that holds the value (vault add-secret NAME) (line 3)`}},
		"extraction into a secret variable": {head + "secret_variables: {token: key}\n" + step + "    extract:\n      - {name: token, from: header, path: X-Token}\n", []string{
			`steps[0].extract[0].name: "token" is a secret variable (from vault item "key"): extracting into it would replace that value; extract into another name (line 8)`}},
		"body_file and body": {head + step + "      method: POST\n      body: hi\n      body_file: f\n", []string{
			`steps[0].request.body_file: body_file, body, form and multipart are alternatives: set only one (this request also sets body) (line 8)`}},
		"body_file and multipart": {head + step + "      method: POST\n      body_file: f\n      multipart:\n        - {name: a, value: b}\n", []string{
			`steps[0].request.body_file: body_file, body, form and multipart are alternatives: set only one (this request also sets multipart) (line 7)`}},
		"multipart file and value": {head + step + "      method: POST\n      multipart:\n        - {name: a, value: b, file: f}\n", []string{
			`steps[0].request.multipart[0].value: must be empty when file is set: the part's content is the vault file "f" (line 8)`}},
		"form file": {head + step + "      method: POST\n      form:\n        - {name: a, file: f}\n", []string{
			`steps[0].request.form[0].file: only used in multipart bodies: a urlencoded form cannot carry a file (line 8)`}},
		"unknown field": {head + step + "      tls: {ca_bundle_files: x}\n", []string{
			`steps[0].request.tls.ca_bundle_files: unknown field (did you mean "ca_bundle_file"?) (line 6)`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse([]byte(tc.file))
			var fe pb.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("Parse() = %v, %v; want FieldErrors", m, err)
			}
			var got []string
			for _, e := range fe {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("errors (-got +want):\n%s", diff)
			}
		})
	}
}

func TestAddLines(t *testing.T) {
	t.Parallel()
	errs := AddLines([]byte(vaultItemsExample), pb.FieldErrors{
		{Path: "steps[1].request.multipart[1].file", Msg: "no such item"},
		{Path: "secret_variables.api_key", Msg: "wrong type"},
		{Path: "nowhere", Msg: "kept"},
	})
	want := []string{"steps[1].request.multipart[1].file: no such item (line 19)", "secret_variables.api_key: wrong type (line 4)", "nowhere: kept"}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if diff := cmp.Diff(got, want, protocmp.Transform()); diff != "" {
		t.Errorf("AddLines (-got +want):\n%s", diff)
	}
}
