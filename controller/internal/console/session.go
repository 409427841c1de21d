package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Scope is what a session may do.
type Scope int

const (
	// ScopeRead sees every page but the audit log, and no action.
	ScopeRead Scope = iota + 1
	// ScopeAdmin sees everything and may act.
	ScopeAdmin
)

func (s Scope) String() string {
	if s == ScopeAdmin {
		return "admin"
	}
	return "results:read"
}

// Identity is who holds a token: the name the audit log gives them, as the API names its callers
// ("admin" for the bootstrap admin token, "token:NAME" for an API token), and what a session
// signed in with it may do.
type Identity struct {
	Name  string
	Scope Scope
}

// TokenChecker says who holds a token someone typed into the sign-in form.
type TokenChecker interface {
	CheckToken(ctx context.Context, token string) (Identity, error)
}

// ErrUnknownToken is what a TokenChecker returns for a token it does not know.
var ErrUnknownToken = errors.New("token is not valid for this controller")

// AdminToken checks the controller's bootstrap admin token.
type AdminToken string

var _ TokenChecker = AdminToken("")

// CheckToken is "admin", with ScopeAdmin, for the admin token.
func (t AdminToken) CheckToken(_ context.Context, token string) (Identity, error) {
	if t == "" || subtle.ConstantTimeCompare([]byte(token), []byte(t)) != 1 {
		return Identity{}, ErrUnknownToken
	}
	return Identity{Name: "admin", Scope: ScopeAdmin}, nil
}

// AnyToken accepts a token that one of its checkers accepts, asking them in order.
type AnyToken []TokenChecker

// CheckToken is the first accepting checker's answer.
func (a AnyToken) CheckToken(ctx context.Context, token string) (Identity, error) {
	for _, c := range a {
		if who, err := c.CheckToken(ctx, token); err == nil {
			return who, nil
		}
	}
	return Identity{}, ErrUnknownToken
}

const (
	cookieName  = "lookout_session"
	maxSessions = 10000
)

type session struct {
	key     [32]byte // sha256 of the cookie's value: the value itself is never kept
	who     Identity // who signed in: every backend call the session makes is theirs
	csrf    string
	expires time.Time
	// token is the one the session signed in with, checked again on every request (and every
	// event sent), so revoking it ends the session at once, as it ends its gRPC calls. It never
	// leaves memory: not in a cookie, a page or a log.
	token string
}

// sessions are kept in memory: a controller restart signs everyone out.
type sessions struct {
	mu   sync.Mutex
	byID map[[32]byte]*session
	ttl  time.Duration
	now  func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{byID: map[[32]byte]*session{}, ttl: ttl, now: now}
}

// create starts a session and returns the cookie value that names it.
func (s *sessions) create(who Identity, token string) (string, *session) {
	id := randomString()
	ss := &session{key: sha256.Sum256([]byte(id)), who: who, csrf: randomString(), expires: s.now().Add(s.ttl), token: token}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= maxSessions {
		s.evict()
	}
	s.byID[ss.key] = ss
	return id, ss
}

// evict drops expired sessions, and the oldest when none had expired.
func (s *sessions) evict() {
	now := s.now()
	var oldest *session
	for k, ss := range s.byID {
		if now.After(ss.expires) {
			delete(s.byID, k)
		} else if oldest == nil || ss.expires.Before(oldest.expires) {
			oldest = ss
		}
	}
	if len(s.byID) >= maxSessions && oldest != nil {
		delete(s.byID, oldest.key)
	}
}

func (s *sessions) get(id string) (*session, bool) {
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[key]
	if ok && s.now().After(ss.expires) {
		delete(s.byID, key)
		return nil, false
	}
	return ss, ok
}

func (s *sessions) end(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, ss.key)
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionOf is the request's valid session, if any.
func (c *Console) sessionOf(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return nil, false
	}
	ss, ok := c.sessions.get(ck.Value)
	if !ok || !c.tokenStillValid(r.Context(), ss) {
		return nil, false
	}
	return ss, true
}

// tokenStillValid checks the session's token again; a session whose token was revoked, or lost
// the scope it signed in with, is ended.
func (c *Console) tokenStillValid(ctx context.Context, ss *session) bool {
	who, err := c.o.Tokens.CheckToken(ctx, ss.token)
	if err != nil || who.Scope < ss.who.Scope {
		c.sessions.end(ss)
		return false
	}
	return true
}

type sessionHandler func(http.ResponseWriter, *http.Request, *session)

// withSession lets a request through with a session of at least scope min; without one it is sent
// to the sign-in page. A request that changes something must carry the session's CSRF token. The
// handler's context names who signed in, so the backend audits its calls as theirs.
func (c *Console) withSession(min Scope, changes bool, h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, ok := c.sessionOf(r)
		if !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if ss.who.Scope < min {
			c.fail(w, r, ss, http.StatusForbidden, "This page needs an admin session: sign in with an admin token.")
			return
		}
		if changes && !validCSRF(r, ss) {
			c.o.Logger.Warn("console refused a request without a valid CSRF token", "path", r.URL.Path, "remote", r.RemoteAddr)
			c.fail(w, r, ss, http.StatusForbidden, "This form was stale or did not come from this console: reload the page and try again.")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r.WithContext(c.asCaller(r.Context(), ss)), ss)
	}
}

// asCaller is ctx carrying the session's identity, for Options.Audit to give the backend.
func (c *Console) asCaller(ctx context.Context, ss *session) context.Context {
	if c.o.Audit == nil {
		return ctx
	}
	return c.o.Audit.AsCaller(ctx, ss.who)
}

func validCSRF(r *http.Request, ss *session) bool {
	r.Body = http.MaxBytesReader(nil, r.Body, 8<<10)
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(ss.csrf)) == 1
}

func (c *Console) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.o.Secure, SameSite: http.SameSiteStrictMode})
}

// loginLimiter slows down guessing: at most loginFailures refused sign-ins per minute from one
// address, so one guesser cannot lock everyone else out. Its memory is bounded: past
// maxLimited addresses in a minute, the rest share one count.
type loginLimiter struct {
	mu     sync.Mutex
	window time.Time
	failed map[string]int
	now    func() time.Time
}

const (
	loginFailures = 20
	maxLimited    = 10000
)

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, failed: map[string]int{}}
}

func (l *loginLimiter) key(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if _, ok := l.failed[host]; !ok && len(l.failed) >= maxLimited {
		return "" // shared by the overflow
	}
	return host
}

func (l *loginLimiter) blocked(remote string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.now().Sub(l.window) > time.Minute {
		l.window, l.failed = l.now(), map[string]int{}
	}
	return l.failed[l.key(remote)] >= loginFailures
}

func (l *loginLimiter) refused(remote string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed[l.key(remote)]++
}
