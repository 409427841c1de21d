package monitorfile

import (
	"fmt"
	"reflect"
	"regexp"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"

	"github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// The alerting: block (DESIGN §8). Channels are named here and checked against the controller's
// channels when the monitor is applied.
type alertingBlock struct {
	Confirm        int32        `yaml:"confirm,omitempty"`
	Escalations    []escalation `yaml:"escalations"`
	NotifyRecovery *bool        `yaml:"notify_recovery,omitempty"` // default true
}

type escalation struct {
	After       *duration `yaml:"after,omitempty"`
	AfterErrors int32     `yaml:"after_errors,omitempty"`
	Notify      []string  `yaml:"notify,flow"`
	RemindEvery *duration `yaml:"remind_every,omitempty"`
}

// MaxEscalations is how many escalation levels a monitor may have.
const MaxEscalations = 3

func (a *alertingBlock) proto() *lookoutv1.AlertingPolicy {
	if a == nil {
		return nil
	}
	p := &lookoutv1.AlertingPolicy{Confirm: a.Confirm, NotifyRecovery: a.NotifyRecovery == nil || *a.NotifyRecovery}
	for _, e := range a.Escalations {
		p.Escalations = append(p.Escalations, &lookoutv1.EscalationLevel{After: e.After.proto(), AfterErrors: e.AfterErrors,
			Notify: e.Notify, RemindEvery: e.RemindEvery.proto()})
	}
	return p
}

func alertingFrom(p *lookoutv1.AlertingPolicy) *alertingBlock {
	if p == nil {
		return nil
	}
	a := &alertingBlock{Confirm: p.Confirm}
	if !p.NotifyRecovery {
		a.NotifyRecovery = proto.Bool(false)
	}
	for _, e := range p.Escalations {
		a.Escalations = append(a.Escalations, escalation{After: durationFrom(e.After), AfterErrors: e.AfterErrors,
			Notify: e.Notify, RemindEvery: durationFrom(e.RemindEvery)})
	}
	return a
}

var channelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// checkAlerting checks the alerting block's own rules; whether its channels exist is the
// controller's check at apply.
func checkAlerting(m *lookoutv1.Monitor) lookoutv1.FieldErrors {
	p := m.GetAlerting()
	if p == nil {
		return nil
	}
	var errs lookoutv1.FieldErrors
	add := func(path, format string, args ...any) {
		errs = append(errs, lookoutv1.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c := int(p.Confirm); c < 0 || (len(m.Checkpoints) > 0 && c > len(m.Checkpoints)) {
		add("alerting.confirm", "must be between 1 and the number of checkpoints (%d); leave it out for min(2, checkpoints)", len(m.Checkpoints))
	}
	switch n := len(p.Escalations); {
	case n == 0:
		add("alerting.escalations", "needs 1 to %d levels, each with the channels to notify", MaxEscalations)
	case n > MaxEscalations:
		add(fmt.Sprintf("alerting.escalations[%d]", MaxEscalations), "a monitor has at most %d escalation levels; this is level %d", MaxEscalations, MaxEscalations+1)
	}
	for i, e := range p.Escalations {
		errs = append(errs, checkEscalation(fmt.Sprintf("alerting.escalations[%d]", i), e)...)
	}
	return errs
}

func checkEscalation(path string, e *lookoutv1.EscalationLevel) lookoutv1.FieldErrors {
	var errs lookoutv1.FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, lookoutv1.FieldError{Path: path + field, Msg: fmt.Sprintf(format, args...)})
	}
	if e.After != nil && e.AfterErrors != 0 {
		add("", "give after or after_errors, not both")
	}
	if e.After.AsDuration() < 0 {
		add(".after", "must not be negative")
	}
	if e.AfterErrors < 0 {
		add(".after_errors", "must not be negative")
	}
	if r := e.RemindEvery.AsDuration(); r < 0 || (r > 0 && r < lookoutv1.MinInterval) {
		add(".remind_every", "must be 0 (no reminders) or at least %s", lookoutv1.MinInterval)
	}
	if len(e.Notify) == 0 {
		add(".notify", "names no channel; list the channels to notify, e.g. notify: [ops-hook]")
	}
	for j, ch := range e.Notify {
		if !channelName.MatchString(ch) {
			add(fmt.Sprintf(".notify[%d]", j), "%q is not a channel name (letters, digits, '.', '_', '-')", ch)
		}
	}
	return errs
}

// DecodeStrict decodes one YAML document into v, a pointer to a struct with yaml tags, by the rules
// of monitor files: every key must be a field (unknown ones are errors naming their path and line),
// scalars must have the field's type. what names the file in messages ("channel file").
func DecodeStrict(data []byte, v any, what string) error {
	if len(data) > MaxSize {
		return fmt.Errorf("%s is %d bytes; the limit is %d (1 MiB)", what, len(data), MaxSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s is not valid YAML: %w", what, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null" {
		return fmt.Errorf("%s is empty", what)
	}
	d := newDecoder()
	d.value(doc.Content[0], reflect.ValueOf(v).Elem(), "")
	if len(d.errs) > 0 {
		return d.errs
	}
	return nil
}
