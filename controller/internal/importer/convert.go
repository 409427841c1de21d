package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/controller/internal/monitorfile"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// MaxSize is the largest Uptrends export Convert reads.
const MaxSize = 4 << 20

// Lookup answers what Convert needs to know about the controller it imports
// into. It is asked only when the options leave a question open.
type Lookup interface {
	// VaultItems lists the names of the vault's items.
	VaultItems(ctx context.Context) ([]string, error)
	// Checkpoints lists the checkpoints that exist.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// Checkpoint is a Lookout checkpoint as Convert sees it.
type Checkpoint struct {
	Name   string
	Public bool
}

// Options steer a conversion.
type Options struct {
	// Bind maps an Uptrends vault item GUID, or the name of a step with inline
	// credentials, to the Lookout vault item that stands for it.
	Bind map[string]string
	// CheckpointMap maps an Uptrends checkpoint id ("31") or region
	// ("region:4") to a Lookout checkpoint name. Empty: every Lookout
	// checkpoint (the public ones, for a monitor that uses the platform
	// certificate).
	CheckpointMap map[string]string
	// Lookup answers questions the maps leave open; nil means none may be asked.
	Lookup Lookup
}

// Monitor is one imported monitor.
type Monitor struct {
	Path        string      // JSON path of the monitor in the input: "" or "[2]"
	Monitor     *pb.Monitor // as monitorfile.Parse reads File
	File        []byte      // the Lookout monitor file
	Paused      bool        // the Uptrends monitor was not active
	Credentials []Credential
	Report      []Finding // what was not carried over, and other things the user should know
}

// Credential is a credential set found inline in the input, to be stored in
// the vault under Item before the monitor is applied.
type Credential struct {
	Item     string
	Username string
	Password string // never printed: see String
	Path     string // of the Authentication block
}

// String describes c without its password.
func (c Credential) String() string {
	return fmt.Sprintf("credential set %s (user %s, from %s)", c.Item, c.Username, c.Path)
}

// GoString keeps the password out of %#v too.
func (c Credential) GoString() string { return c.String() }

// Convert reads an Uptrends monitor, or a JSON array of them, and returns the
// Lookout monitors. Problems that leave a monitor meaningless (malformed JSON,
// a value of the wrong type, an enum value the importer does not know, an
// unbound vault reference, a result Lookout would refuse) are returned
// together as Errors, each with its JSON path.
func Convert(ctx context.Context, data []byte, o Options) ([]Monitor, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("the Uptrends export is %d bytes; the limit is %d (4 MiB)", len(data), MaxSize)
	}
	items, paths, err := topLevel(data)
	if err != nil {
		return nil, err
	}
	c := &converter{ctx: ctx, o: o}
	var out []Monitor
	var errs Errors
	for i, it := range items {
		m, merrs := c.monitor(paths[i], it)
		errs = append(errs, merrs...)
		if len(merrs) == 0 {
			out = append(out, m)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := checkDuplicates(out); err != nil {
		return nil, err
	}
	return out, nil
}

// topLevel splits the input into monitors: one object, or an array of them.
func topLevel(data []byte) ([]json.RawMessage, []string, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, nil, errors.New("the Uptrends export is empty")
	}
	var v any
	if err := json.Unmarshal(trimmed, &v); err != nil {
		return nil, nil, syntaxError("the Uptrends export", trimmed, err)
	}
	switch trimmed[0] {
	case '{':
		return []json.RawMessage{trimmed}, []string{""}, nil
	case '[':
		var w walker
		items, paths := asList(&w, "", trimmed)
		if len(items) == 0 {
			return nil, nil, errors.New("the Uptrends export is an empty array: it holds no monitor")
		}
		return items, paths, nil
	}
	return nil, nil, fmt.Errorf("the Uptrends export must be a monitor object or an array of monitors, not %s", kindOf(trimmed))
}

func checkDuplicates(ms []Monitor) error {
	seen := map[string]string{}
	var errs Errors
	for _, m := range ms {
		if prev, ok := seen[m.Monitor.Name]; ok {
			errs = append(errs, Finding{Path: join(m.Path, "Name"), Msg: fmt.Sprintf("monitor name %q is used by %s too: rename one", m.Monitor.Name, orTop(prev))})
		}
		seen[m.Monitor.Name] = m.Path
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func orTop(p string) string {
	if p == "" {
		return "the top-level monitor"
	}
	return p
}

// converter holds what all monitors of one input share: the options and the
// answers of the Lookup, asked at most once.
type converter struct {
	ctx         context.Context
	o           Options
	vaultNames  []string
	vaultErr    error
	vaultAsked  bool
	checkpoints []Checkpoint
	cpErr       error
	cpAsked     bool
}

func (c *converter) vaultItems() ([]string, error) {
	if !c.vaultAsked && c.o.Lookup != nil {
		c.vaultNames, c.vaultErr = c.o.Lookup.VaultItems(c.ctx)
		c.vaultAsked = true
	}
	return c.vaultNames, c.vaultErr
}

func (c *converter) allCheckpoints() ([]Checkpoint, error) {
	if c.o.Lookup == nil {
		return nil, errors.New("no controller to ask: give --checkpoint-map")
	}
	if !c.cpAsked {
		c.checkpoints, c.cpErr = c.o.Lookup.Checkpoints(c.ctx)
		c.cpAsked = true
	}
	return c.checkpoints, c.cpErr
}

// monitorState is what is read of one Uptrends monitor.
type monitorState struct {
	c         *converter
	w         *walker
	path      string
	name      string // the Lookout name
	m         *pb.Monitor
	stepPaths []string // Uptrends path of each Lookout step
	constants []constant
	creds     []Credential
	platform  bool
}

type constant struct{ name, value, path string }

func (c *converter) monitor(path string, data json.RawMessage) (Monitor, Errors) {
	s := &monitorState{c: c, w: &walker{}, path: path, m: &pb.Monitor{}}
	o := newObject(s.w, path, data)
	if o == nil {
		return Monitor{}, s.w.errs
	}
	paused := s.header(o)
	s.body(o)
	s.unmappedMonitorFields(o)
	s.m.Checkpoints = s.checkpointNames(o)
	o.done()
	s.applyConstants()
	if len(s.w.errs) > 0 {
		return Monitor{}, s.w.errs
	}
	file, m := s.finish()
	if len(s.w.errs) > 0 {
		return Monitor{}, s.w.errs
	}
	return Monitor{Path: path, Monitor: m, File: file, Paused: paused, Credentials: s.creds, Report: s.w.notes}, nil
}

// header reads the monitor's name, type, interval and state; it returns
// whether the monitor is paused.
func (s *monitorState) header(o *object) bool {
	o.ignore("MonitorGuid", "Hash", "AccountId", "CreatedDate", "ModifiedDate")
	if t := o.str("MonitorType"); t != "" && !strings.EqualFold(t, "MultiStepApi") {
		s.w.fail(join(s.path, "MonitorType"), "%q monitors cannot be imported: only MultiStepApi monitors can", t)
	}
	raw := o.str("Name")
	s.name = slug(raw)
	switch {
	case raw == "":
		s.w.fail(join(s.path, "Name"), "required: the monitor needs a name")
	case s.name != raw:
		s.w.note(join(s.path, "Name"), "imported as %q: Lookout monitor names hold only letters, digits, '.', '_' and '-'", s.name)
	}
	s.m.Name = s.name
	interval := monitorfile.DefaultInterval
	if n, ok := o.integer("CheckInterval"); ok {
		interval = time.Duration(n) * time.Minute
	}
	s.m.Interval = durationpb.New(interval)
	s.m.Timeout = durationpb.New(min(monitorfile.DefaultTimeout, max(interval, time.Second)))
	if v, _ := o.get("IsActive"); v != nil {
		return !o.boolean("IsActive")
	}
	return false
}

// body reads the steps and predefined variables, from the script when there
// is one, else from the legacy top-level fields.
func (s *monitorState) body(o *object) {
	vars := o.objects("PredefinedVariables")
	steps := o.objects("MsaSteps")
	if script := o.str("MultiStepApiTransactionScript"); script != "" {
		_, p := o.get("MultiStepApiTransactionScript")
		if len(steps) > 0 {
			s.w.note(join(s.path, "MsaSteps"), "not imported: MultiStepApiTransactionScript holds the steps, and this older copy was left out")
		}
		so := s.script(p, script)
		if so == nil {
			return
		}
		vars = append(vars, so.objects("PredefinedVariables")...)
		steps = so.objects("MsaSteps")
		so.ignore("Version")
		so.unmapped("UserDefinedFunctions", "Lookout has no user-defined functions; compute the value in an earlier step or a predefined variable")
		so.unmapped("CustomMetrics", "Lookout has no custom metrics; every step's timings are in its results")
		so.done()
	}
	s.variables(vars)
	for _, st := range steps {
		s.step(st)
	}
}

func (s *monitorState) script(path, script string) *object {
	var v any
	if err := json.Unmarshal([]byte(script), &v); err != nil {
		s.w.fail(path, "%v", syntaxError("the script (a JSON string)", []byte(script), err))
		return nil
	}
	return newObject(s.w, path, json.RawMessage(script))
}

func (s *monitorState) variables(vars []*object) {
	for _, v := range vars {
		key, value := v.str("Key"), v.str("Value")
		v.done()
		if key == "" {
			s.w.fail(join(v.path, "Key"), "required: a predefined variable needs a name")
			continue
		}
		if s.m.Variables == nil {
			s.m.Variables = map[string]string{}
		}
		if _, dup := s.m.Variables[key]; dup {
			s.w.note(v.path, "not imported: variable %q is defined earlier too; the first value is kept", key)
			continue
		}
		s.m.Variables[key] = value
	}
}

func (s *monitorState) unmappedMonitorFields(o *object) {
	const alerting = "alerting is set up in Lookout with channels, not per monitor field"
	for _, k := range []string{"GenerateAlert", "AlertOnLoadTimeLimit1", "AlertOnLoadTimeLimit2", "LoadTimeLimit1", "LoadTimeLimit2",
		"AlertOnPercentageFail", "AlertOnMinimumBytes", "AlertOnMaximumBytes", "ErrorConditions", "ErrorLevel"} {
		o.unmapped(k, alerting)
	}
	o.unmapped("Notes", "Lookout monitors have no notes; keep them beside the monitor file")
	o.unmapped("CustomFields", "Lookout monitors have no custom fields")
	o.unmapped("UserDefinedFunctions", "Lookout has no user-defined functions")
	o.unmapped("CustomMetrics", "Lookout has no custom metrics")
}

// applyConstants turns Constant variables into predefined ones where that
// keeps their meaning: no other definition of the name exists.
func (s *monitorState) applyConstants() {
	extracted := map[string]bool{}
	for _, st := range s.m.Steps {
		for _, e := range st.Extract {
			extracted[e.Name] = true
		}
	}
	for _, k := range s.constants {
		_, predefined := s.m.Variables[k.name]
		if predefined || extracted[k.name] {
			s.w.note(k.path, "not imported: constant %q is also set elsewhere, so it cannot become a predefined variable", k.name)
			continue
		}
		if s.m.Variables == nil {
			s.m.Variables = map[string]string{}
		}
		s.m.Variables[k.name] = k.value
		s.w.note(k.path, "imported as predefined variable %q (Lookout sets constants once per run)", k.name)
	}
}

// finish writes the monitor file and reads it back, so the result is what
// `monitor apply` will store, and Lookout's own checks have run.
func (s *monitorState) finish() ([]byte, *pb.Monitor) {
	file, err := monitorfile.Format(s.m)
	if err != nil {
		s.w.fail(s.path, "cannot be written as a Lookout monitor: %v", err)
		return nil, nil
	}
	m, err := monitorfile.Parse(file)
	var fe pb.FieldErrors
	switch {
	case errors.As(err, &fe):
	case err != nil:
		s.w.fail(s.path, "the imported monitor is not valid: %v", err)
	default:
		fe = monitorfile.CheckVariables(m)
	}
	for _, e := range fe {
		s.w.fail(s.upPath(e.Path), "%s (Lookout field %s)", stripLine(e.Msg), stripLine(e.Path))
	}
	return file, m
}

var stepIndex = regexp.MustCompile(`^steps\[(\d+)\]`)

// upPath turns a Lookout field path into the Uptrends path it came from.
func (s *monitorState) upPath(p string) string {
	if m := stepIndex.FindStringSubmatch(p); m != nil {
		var i int
		fmt.Sscan(m[1], &i)
		if i < len(s.stepPaths) {
			return s.stepPaths[i]
		}
	}
	return orTop(s.path)
}

var lineSuffix = regexp.MustCompile(` \(line \d+\)$`)

// stripLine drops the monitor file's line number: the user never saw that file.
func stripLine(s string) string { return lineSuffix.ReplaceAllString(s, "") }

var notNameChar = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// slug makes s a valid Lookout name: other characters become '-', and it
// starts with a letter or digit and holds at most 64 characters.
func slug(s string) string {
	out := strings.Trim(notNameChar.ReplaceAllString(s, "-"), "-._")
	if len(out) > pb.MaxNameLength {
		out = strings.TrimRight(out[:pb.MaxNameLength], "-._")
	}
	return out
}

// checkpointNames maps SelectedCheckpoints to Lookout checkpoint names.
func (s *monitorState) checkpointNames(o *object) []string {
	sel := o.child("SelectedCheckpoints")
	var keys []string
	var keyPaths []string
	if sel != nil {
		for _, f := range []struct{ field, prefix string }{{"Checkpoints", ""}, {"Regions", "region:"}, {"PrivateLocations", ""}} {
			items, paths := sel.list(f.field)
			for i, it := range items {
				keys = append(keys, f.prefix+strings.Trim(string(bytes.TrimSpace(it)), `"`))
				keyPaths = append(keyPaths, paths[i])
			}
		}
		sel.unmapped("ExcludeLocations", "Lookout checkpoints are chosen by name; leave the excluded ones out of --checkpoint-map")
		sel.done()
	}
	o.ignore("UsePrimaryCheckpointsOnly")
	if len(s.c.o.CheckpointMap) > 0 && len(keys) > 0 {
		return s.mappedCheckpoints(keys, keyPaths)
	}
	return s.defaultCheckpoints()
}

func (s *monitorState) mappedCheckpoints(keys, paths []string) []string {
	var names []string
	for i, k := range keys {
		name, ok := s.c.o.CheckpointMap[k]
		if !ok {
			s.w.note(paths[i], "not imported: checkpoint %s has no --checkpoint-map entry", k)
			continue
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		s.w.fail(join(s.path, "SelectedCheckpoints"), "none of the selected checkpoints (%s) has a --checkpoint-map entry: add one, e.g. --checkpoint-map %s=CHECKPOINT", strings.Join(keys, ", "), firstOr(keys, "31"))
	}
	slices.Sort(names)
	return names
}

func firstOr(xs []string, def string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return def
}

// defaultCheckpoints is every Lookout checkpoint, or every public one when a
// step uses the platform certificate (which private checkpoints never get).
func (s *monitorState) defaultCheckpoints() []string {
	cps, err := s.c.allCheckpoints()
	if err != nil {
		s.w.fail(join(s.path, "SelectedCheckpoints"), "cannot choose checkpoints: %v", err)
		return nil
	}
	var names []string
	for _, cp := range cps {
		if cp.Public || !s.platform {
			names = append(names, cp.Name)
		}
	}
	slices.Sort(names)
	what := "every Lookout checkpoint"
	if s.platform {
		what = "every public Lookout checkpoint (a step uses the platform certificate)"
	}
	if len(names) == 0 {
		s.w.fail(join(s.path, "SelectedCheckpoints"), "no checkpoint to run from: %s is none; create one with `lookout-controller checkpoint token --name N --kind public`", what)
		return nil
	}
	s.w.note(join(s.path, "SelectedCheckpoints"), "runs from %s: %s (no --checkpoint-map given)", what, strings.Join(names, ", "))
	return names
}
