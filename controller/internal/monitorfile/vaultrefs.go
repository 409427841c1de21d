package monitorfile

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// VaultRef is one place where a monitor names a vault item.
type VaultRef struct {
	Path  string // YAML path of the field: "secret_variables.token", "steps[0].request.body_file"
	Field string // the field's own name, for messages: "secret_variables", "body_file", "file" …
	Step  int    // index of the step, or -1 for a monitor-level field
	Item  string // the vault item's name
	Want  lookoutv1.VaultItemType
}

// VaultRefs lists every vault item m names, in file order (secret variables first, by name).
// It is the one list the controller uses to check references when a monitor is applied, to
// refuse deleting an item in use, to show what uses an item, and to choose a run's secrets.
func VaultRefs(m *lookoutv1.Monitor) []VaultRef {
	var refs []VaultRef
	names := make([]string, 0, len(m.GetSecretVariables()))
	for name := range m.GetSecretVariables() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		refs = append(refs, VaultRef{Path: "secret_variables." + name, Field: "secret_variables", Step: -1,
			Item: m.GetSecretVariables()[name], Want: lookoutv1.VaultItemType_VAULT_ITEM_TYPE_SECRET})
	}
	for i, st := range m.GetSteps() {
		if req := st.GetRequest(); req != nil {
			refs = append(refs, requestRefs(i, req)...)
		}
	}
	return refs
}

func requestRefs(i int, req *lookoutv1.HttpRequest) []VaultRef {
	p := fmt.Sprintf("steps[%d].request", i)
	var refs []VaultRef
	add := func(path, field, item string, want lookoutv1.VaultItemType) {
		if item != "" {
			refs = append(refs, VaultRef{Path: path, Field: field, Step: i, Item: item, Want: want})
		}
	}
	if cc := req.GetClientCertificate(); cc.GetSource() == lookoutv1.CertificateSource_CERTIFICATE_SOURCE_VAULT {
		add(p+".client_certificate.item", "client_certificate", cc.GetItem(), lookoutv1.VaultItemType_VAULT_ITEM_TYPE_CERTIFICATE)
	}
	add(p+".auth.credentials", "auth.credentials", req.GetAuth().GetCredentials(), lookoutv1.VaultItemType_VAULT_ITEM_TYPE_CREDENTIALS)
	add(p+".body_file", "body_file", req.GetBodyFile(), lookoutv1.VaultItemType_VAULT_ITEM_TYPE_FILE)
	for j, f := range req.GetMultipart() {
		add(fmt.Sprintf("%s.multipart[%d].file", p, j), "multipart file", f.GetFile(), lookoutv1.VaultItemType_VAULT_ITEM_TYPE_FILE)
	}
	add(p+".tls.ca_bundle_file", "tls.ca_bundle_file", req.GetTls().GetCaBundleFile(), lookoutv1.VaultItemType_VAULT_ITEM_TYPE_FILE)
	return refs
}

// variableName is the rule lookoutv1 applies to variable names.
var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// checkVaultFields checks the fields that name vault secrets and files, which
// lookoutv1.Monitor.Validate does not know about: secret variable names, and which body
// fields exclude which.
func checkVaultFields(m *lookoutv1.Monitor) lookoutv1.FieldErrors {
	errs := checkSecretVariables(m)
	for i, st := range m.GetSteps() {
		if req := st.GetRequest(); req != nil {
			errs = append(errs, checkBodyFiles(fmt.Sprintf("steps[%d].request", i), req)...)
		}
	}
	return errs
}

func checkSecretVariables(m *lookoutv1.Monitor) lookoutv1.FieldErrors {
	var errs lookoutv1.FieldErrors
	for _, ref := range VaultRefs(m) {
		if ref.Step >= 0 {
			continue
		}
		name := strings.TrimPrefix(ref.Path, "secret_variables.")
		add := func(format string, args ...any) {
			errs = append(errs, lookoutv1.FieldError{Path: ref.Path, Msg: fmt.Sprintf(format, args...)})
		}
		_, plain := m.GetVariables()[name]
		switch {
		case strings.HasPrefix(name, "@"):
			add("%q collides with the automatic variables, whose names start with '@' ({{@RandomGuid}} …): choose a name without '@'", name)
		case len(name) > lookoutv1.MaxNameLength:
			add("must be at most %d characters", lookoutv1.MaxNameLength)
		case !variableName.MatchString(name):
			add("%q is not a valid variable name: start with a letter or '_', then use letters, digits, '_', '.' or '-'", name)
		case plain:
			add("%q is also a plain variable (variables.%s): a name is either a plain or a secret variable, not both", name, name)
		case ref.Item == "":
			add("name the vault secret item that holds the value (vault add-secret NAME)")
		}
	}
	// An extraction into a secret variable would silently replace the vault's value for the rest
	// of the run.
	for i, st := range m.GetSteps() {
		for j, e := range st.GetExtract() {
			if item, ok := m.GetSecretVariables()[e.GetName()]; ok {
				errs = append(errs, lookoutv1.FieldError{Path: fmt.Sprintf("steps[%d].extract[%d].name", i, j),
					Msg: fmt.Sprintf("%q is a secret variable (from vault item %q): extracting into it would replace that value; extract into another name", e.GetName(), item)})
			}
		}
	}
	return errs
}

func checkBodyFiles(p string, req *lookoutv1.HttpRequest) lookoutv1.FieldErrors {
	var errs lookoutv1.FieldErrors
	add := func(path, format string, args ...any) {
		errs = append(errs, lookoutv1.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if req.GetBodyFile() != "" {
		var others []string
		for _, o := range []struct {
			name string
			set  bool
		}{{"body", req.GetBody() != ""}, {"form", len(req.GetForm()) > 0}, {"multipart", len(req.GetMultipart()) > 0}} {
			if o.set {
				others = append(others, o.name)
			}
		}
		if len(others) > 0 {
			add(p+".body_file", "body_file, body, form and multipart are alternatives: set only one (this request also sets %s)", strings.Join(others, " and "))
		}
	}
	for j, f := range req.GetForm() {
		if f.GetFile() != "" {
			add(fmt.Sprintf("%s.form[%d].file", p, j), "only used in multipart bodies: a urlencoded form cannot carry a file")
		}
	}
	for j, f := range req.GetMultipart() {
		if f.GetFile() != "" && f.GetValue() != "" {
			add(fmt.Sprintf("%s.multipart[%d].value", p, j), "must be empty when file is set: the part's content is the vault file %q", f.GetFile())
		}
	}
	return errs
}

// AddLines adds "(line N)" to each error whose path is a field of the monitor file data, as
// Parse does for its own errors. The controller uses it for the errors it finds checking a
// parsed monitor against the vault.
func AddLines(data []byte, errs lookoutv1.FieldErrors) lookoutv1.FieldErrors {
	root, err := parseYAML(data)
	if err != nil {
		return errs
	}
	var f monitorFile
	d := newDecoder()
	d.value(root, reflect.ValueOf(&f).Elem(), "")
	return d.withLines(errs)
}
