// Package natsembed runs the controller's embedded NATS server. Agents connect over TLS with the
// client certificate the controller issued them; each is registered as a user whose permissions
// cover only its own checkpoint's run subject and its own inbox, and who may publish nothing. The
// controller itself connects in process with a token only it knows.
//
// It never serves the platform certificate: its server certificate comes from the internal CA.
package natsembed

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/lookout-synthetics/lookout/internal/natsbus"
	"github.com/lookout-synthetics/lookout/internal/pki"
)

// Authorizer says whether an agent identity (from a verified certificate) may connect now.
type Authorizer func(pki.Identity) error

// Options configure the server.
type Options struct {
	Listen    string      // host:port for agents; port 0 picks one
	TLS       *tls.Config // server certificate, ClientCAs = internal CA
	Authorize Authorizer
	Logger    *slog.Logger
}

// Server is a running embedded NATS server.
type Server struct {
	ns    *server.Server
	token string
	log   *slog.Logger
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
	s := &Server{token: randomToken(), log: o.Logger}
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
	opts.CustomClientAuthentication = &authenticator{token: s.token, authorize: o.Authorize, log: o.Logger}
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
	return s, nil
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

// Shutdown stops the server and waits for it.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

type authenticator struct {
	token     string
	authorize Authorizer
	log       *slog.Logger
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
	id, err := identity(c.GetTLSConnectionState())
	if err == nil {
		err = a.authorize(id)
	}
	if err != nil {
		a.log.Warn("refused NATS connection", "remote", c.RemoteAddress().String(), "err", err)
		return false
	}
	c.RegisterUser(agentUser(id))
	return true
}

func identity(st *tls.ConnectionState) (pki.Identity, error) {
	if st == nil || len(st.VerifiedChains) == 0 {
		return pki.Identity{}, errors.New("no verified client certificate")
	}
	return pki.IdentityFromCert(st.VerifiedChains[0][0])
}

// agentUser may subscribe to its checkpoint's run subject and its own inbox, and publish nothing:
// agents report over gRPC.
func agentUser(id pki.Identity) *server.User {
	subject, _ := natsbus.RunSubject(id.CheckpointID) // ids come from our own verified certificate
	return &server.User{
		Username: "agent-" + id.AgentID,
		Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Deny: []string{">"}},
			Subscribe: &server.SubjectPermission{Allow: []string{subject, natsbus.InboxPrefix(id.AgentID) + ".>"}},
		},
	}
}
