package runner

import (
	"crypto/tls"
	"maps"
	"time"

	"github.com/icholy/digest"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"golang.org/x/oauth2"
)

// runState is what one run carries from step to step. Steps run one after
// the other, so it needs no locking.
type runState struct {
	secrets    *Secrets
	vars       map[string]string // predefined, then extracted (later wins)
	secretVars map[string]bool   // variables used in bearer tokens
	hidden     []string          // secret values to redact
	// unavailable is the error of every HTTP step when a secret variable's item is missing.
	unavailable error
	transports  *transports
	tokens      map[tokenKey]*oauth2.Token      // OAuth2 tokens, kept for the run
	digests     map[digestKey]*digest.Transport // digest clients with their cached challenges
	bodyCap     int64
	now         func() time.Time
	handshakes  chan struct{}                  // the runner's (Options.MaxHandshakes)
	certs       map[*tls.Certificate]certFacts // client certificates' public facts, by first use
}

func newRunState(r *Runner, m *lookoutv1.Monitor, s *Secrets) *runState {
	if s == nil {
		s = &Secrets{}
	}
	rs := &runState{
		secrets:    s,
		vars:       map[string]string{},
		secretVars: bearerVariables(m.GetSteps()),
		transports: newTransports(r.rootCAs),
		tokens:     map[tokenKey]*oauth2.Token{},
		digests:    map[digestKey]*digest.Transport{},
		bodyCap:    r.bodyCap,
		now:        r.now,
		handshakes: r.handshakes,
	}
	for _, c := range s.Credentials {
		rs.hide(basicForms(c)...)
	}
	rs.assign(maps.All(m.GetVariables()))
	rs.useSecretVariables(m)
	return rs
}

// bearerVariables lists the variables that bearer tokens are made of: their
// values are secrets from the moment they are known.
func bearerVariables(steps []*lookoutv1.Step) map[string]bool {
	names := map[string]bool{}
	for _, st := range steps {
		auth := st.GetRequest().GetAuth()
		if auth.GetType() != lookoutv1.AuthType_AUTH_TYPE_BEARER {
			continue
		}
		for tok := auth.GetToken(); ; {
			_, end, name, ok := nextPlaceholder(tok)
			if !ok {
				break
			}
			names[name], tok = true, tok[end:]
		}
	}
	return names
}

// assign sets variables, hiding the values of secret ones.
func (rs *runState) assign(vars func(yield func(string, string) bool)) {
	for name, value := range vars {
		rs.vars[name] = value
		if rs.secretVars[name] {
			rs.hide(secretForms(value)...)
		}
	}
}

func (rs *runState) hide(secrets ...string) { rs.hidden = append(rs.hidden, secrets...) }

func (rs *runState) redactor() func(string) string { return newRedactor(rs.hidden) }

// expand resolves the {{variables}} in s.
func (rs *runState) expand(s string) (string, error) { return expand(s, rs.vars, rs.now()) }

// extracted yields extracted variables as name/value pairs.
func extracted(vars []*lookoutv1.ExtractedVariable) func(yield func(string, string) bool) {
	return func(yield func(string, string) bool) {
		for _, v := range vars {
			if !yield(v.GetName(), v.GetValue()) {
				return
			}
		}
	}
}
