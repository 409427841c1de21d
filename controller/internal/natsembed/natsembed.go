// Package natsembed runs the controller's embedded NATS server. Agents connect over TLS with the
// client certificate the controller issued them; each is registered as a user whose permissions
// cover only its own checkpoint's run subject (in its checkpoint's queue group) and its own inbox,
// and who may publish nothing. The controller itself connects in process with a token only it knows.
//
// The server checks an agent when it connects and again every Recheck interval while it stays
// connected: a connection whose agent was revoked, or whose certificate expired, is closed.
//
// It never serves the platform certificate: its server certificate comes from the internal CA.
package natsembed

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/lookout-synthetics/lookout/internal/natsbus"
	"github.com/lookout-synthetics/lookout/internal/pki"
)

// Authorizer says whether an agent identity (from a verified certificate) may connect now.
type Authorizer func(pki.Identity) error

// DefaultRecheck is how often connected agents are checked again when Options.Recheck is zero. It is
// well inside an agent's heartbeat (10s), so a revoked agent is cut off within one heartbeat.
const DefaultRecheck = 2 * time.Second

// Options configure the server.
type Options struct {
	Listen    string      // host:port for agents; port 0 picks one
	TLS       *tls.Config // server certificate, ClientCAs = internal CA
	Authorize Authorizer
	Logger    *slog.Logger
	// Recheck is how often connected agents are authorized again (default DefaultRecheck).
	Recheck time.Duration
}

// Server is a running embedded NATS server.
type Server struct {
	ns    *server.Server
	token string
	log   *slog.Logger
	auth  *authenticator
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: port is not a number", o.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	tlsConf := o.TLS.Clone()
	tlsConf.ClientAuth = tls.RequireAndVerifyClientCert
	if o.Recheck <= 0 {
		o.Recheck = DefaultRecheck
	}
	s := &Server{token: randomToken(), log: o.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	opts := &server.Options{
		ServerName: "lookout-embedded",
		Host:       host,
		Port:       port,
		NoSigs:     true,
		NoLog:      true,
		TLSConfig:  tlsConf,
		TLSTimeout: 5,
		MaxPayload: 4 << 20,
	}
	s.auth = &authenticator{token: s.token, authorize: o.Authorize, log: o.Logger, now: time.Now, conns: map[uint64]agentConn{}}
	opts.CustomClientAuthentication = s.auth
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring embedded NATS: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded NATS did not start listening on %s within 10s (is the port in use?)", o.Listen)
	}
	s.ns = ns
	go s.recheckLoop(o.Recheck)
	return s, nil
}

func (s *Server) recheckLoop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Recheck()
		}
	}
}

// Recheck authorizes every connected agent again and closes the connections of those refused now
// (revoked, unknown, or with an expired certificate). It returns how many it closed. It runs on its
// own every Recheck interval; call it to cut agents off at once (after a revocation, say).
func (s *Server) Recheck() int {
	closed := 0
	for cid, ac := range s.auth.snapshot() {
		if s.ns.GetClient(cid) == nil {
			s.auth.forget(cid) // gone already
			continue
		}
		err := s.auth.check(ac)
		if err == nil {
			continue
		}
		if dErr := s.ns.DisconnectClientByID(cid); dErr == nil {
			closed++
			s.log.Warn("closed an agent's NATS connection", "agent", ac.id.AgentID, "checkpoint", ac.id.CheckpointID, "err", err)
		}
		s.auth.forget(cid)
	}
	return closed
}

// AgentConnections is the number of agent connections the server is tracking.
func (s *Server) AgentConnections() int {
	return len(s.auth.snapshot())
}

// ClientURL is the tls:// URL agents use.
func (s *Server) ClientURL() string {
	addr := s.ns.Addr().(*net.TCPAddr)
	return "tls://" + net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port))
}

// ConnectInProcess connects the controller without a socket.
func (s *Server) ConnectInProcess(opts ...nats.Option) (*nats.Conn, error) {
	opts = append(opts, nats.InProcessServer(s.ns), nats.Token(s.token), nats.Name("lookout-controller"))
	return nats.Connect("", opts...)
}

// Shutdown stops the server and waits for it. Calling it again does nothing.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	})
}

// randomToken is the in-process client's password: 128 random bits.
func randomToken() string { return rand.Text() }

type authenticator struct {
	token     string
	authorize Authorizer
	log       *slog.Logger
	now       func() time.Time

	mu    sync.Mutex
	conns map[uint64]agentConn // by NATS client id
}

// agentConn is what an agent's connection was admitted with.
type agentConn struct {
	id       pki.Identity
	notAfter time.Time
}

func (a *authenticator) check(ac agentConn) error {
	if a.now().After(ac.notAfter) {
		return fmt.Errorf("agent %s: client certificate expired at %s", ac.id.AgentID, ac.notAfter.UTC().Format(time.RFC3339))
	}
	return a.authorize(ac.id)
}

func (a *authenticator) track(cid uint64, ac agentConn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conns[cid] = ac
}

func (a *authenticator) forget(cid uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.conns, cid)
}

func (a *authenticator) snapshot() map[uint64]agentConn {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[uint64]agentConn, len(a.conns))
	for k, v := range a.conns {
		out[k] = v
	}
	return out
}

// Check implements server.Authentication.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false
	}
	if tok := c.GetOpts().Token; tok != "" {
		ok := subtle.ConstantTimeCompare([]byte(tok), []byte(a.token)) == 1
		if ok {
			c.RegisterUser(&server.User{Username: "lookout-controller"})
		}
		return ok
	}
	ac, err := identity(c.GetTLSConnectionState())
	if err == nil {
		err = a.check(ac)
	}
	if err != nil {
		a.log.Warn("refused NATS connection", "remote", c.RemoteAddress().String(), "err", err)
		return false
	}
	a.track(c.GetID(), ac)
	c.RegisterUser(agentUser(ac.id))
	return true
}

func identity(st *tls.ConnectionState) (agentConn, error) {
	if st == nil || len(st.VerifiedChains) == 0 {
		return agentConn{}, errors.New("no verified client certificate")
	}
	leaf := st.VerifiedChains[0][0]
	id, err := pki.IdentityFromCert(leaf)
	if err != nil {
		return agentConn{}, err
	}
	if _, err := natsbus.RunSubject(id.CheckpointID); err != nil {
		return agentConn{}, err
	}
	if !safeAgentID(id.AgentID) {
		return agentConn{}, fmt.Errorf("agent id %q is not safe in a NATS subject", id.AgentID)
	}
	return agentConn{id: id, notAfter: leaf.NotAfter}, nil
}

// safeAgentID matches the alphabet the controller chooses ids from ([a-z0-9_]), so nothing in an
// agent id can widen its inbox permission.
func safeAgentID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// agentUser may subscribe to its checkpoint's run subject, only as a member of its checkpoint's queue
// group (so each run goes to one instance), and to its own inbox; it may publish nothing: agents
// report over gRPC.
func agentUser(id pki.Identity) *server.User {
	return &server.User{Username: "agent-" + id.AgentID, Permissions: AgentPermissions(id)}
}

// AgentPermissions are the subject permissions of one agent. Any NATS deployment serving Lookout
// agents must grant no more than these (see docs/external-nats.md).
func AgentPermissions(id pki.Identity) *server.Permissions {
	subject, _ := natsbus.RunSubject(id.CheckpointID) // checked when the connection was admitted
	return &server.Permissions{
		Publish: &server.SubjectPermission{Deny: []string{">"}},
		Subscribe: &server.SubjectPermission{
			Allow: []string{subject + " " + natsbus.QueueGroup(id.CheckpointID), natsbus.InboxPrefix(id.AgentID) + ".>"},
		},
	}
}
