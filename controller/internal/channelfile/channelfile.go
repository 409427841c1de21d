package channelfile

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/lookout-synthetics/lookout/controller/internal/monitorfile"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

type file struct {
	Name             string   `yaml:"name"`
	Type             string   `yaml:"type"`
	URL              string   `yaml:"url,omitempty"`
	SigningSecret    string   `yaml:"signing_secret,omitempty"`
	WebhookURLSecret string   `yaml:"webhook_url_secret,omitempty"`
	RoutingKeySecret string   `yaml:"routing_key_secret,omitempty"`
	SMTP             *smtp    `yaml:"smtp,omitempty"`
	From             string   `yaml:"from,omitempty"`
	To               []string `yaml:"to,omitempty"`
}

type smtp struct {
	Host           string `yaml:"host"`
	Port           int32  `yaml:"port,omitempty"`
	Username       string `yaml:"username,omitempty"`
	PasswordSecret string `yaml:"password_secret,omitempty"`
	TLS            string `yaml:"tls,omitempty"`
}

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	types       = map[string]pb.ChannelType{"webhook": pb.ChannelType_CHANNEL_TYPE_WEBHOOK, "slack": pb.ChannelType_CHANNEL_TYPE_SLACK,
		"pagerduty": pb.ChannelType_CHANNEL_TYPE_PAGERDUTY, "email": pb.ChannelType_CHANNEL_TYPE_EMAIL}
	tlsModes = map[string]pb.SMTPTLS{"": pb.SMTPTLS_SMTPTLS_STARTTLS, "starttls": pb.SMTPTLS_SMTPTLS_STARTTLS,
		"tls": pb.SMTPTLS_SMTPTLS_TLS, "none": pb.SMTPTLS_SMTPTLS_NONE}
)

// Parse reads a channel file. Problems with fields are lookoutv1.FieldErrors naming their path.
func Parse(data []byte) (*pb.Channel, error) {
	var f file
	if err := monitorfile.DecodeStrict(data, &f, "channel file"); err != nil {
		return nil, err
	}
	v := &checker{}
	c := v.channel(&f)
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	return c, nil
}

type checker struct{ errs pb.FieldErrors }

func (v *checker) addf(path, format string, args ...any) {
	v.errs = append(v.errs, pb.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *checker) channel(f *file) *pb.Channel {
	if !namePattern.MatchString(f.Name) {
		v.addf("name", "%q is not a channel name: use letters, digits, '.', '_' and '-', starting with a letter or digit", f.Name)
	}
	t, ok := types[f.Type]
	if !ok {
		v.addf("type", "%q is not one of webhook, slack, pagerduty, email", f.Type)
	}
	c := &pb.Channel{Name: f.Name, Type: t, Url: f.URL, SigningSecret: f.SigningSecret, WebhookUrlSecret: f.WebhookURLSecret,
		RoutingKeySecret: f.RoutingKeySecret, From: f.From, To: f.To}
	v.only(f, t)
	switch t {
	case pb.ChannelType_CHANNEL_TYPE_WEBHOOK:
		v.httpURL("url", f.URL, true)
		v.required("signing_secret", f.SigningSecret, "the vault secret receivers verify signatures with (add one with `lookout-controller vault add-secret NAME`)")
	case pb.ChannelType_CHANNEL_TYPE_SLACK:
		v.required("webhook_url_secret", f.WebhookURLSecret, "the vault secret holding the Slack incoming-webhook URL")
	case pb.ChannelType_CHANNEL_TYPE_PAGERDUTY:
		v.required("routing_key_secret", f.RoutingKeySecret, "the vault secret holding the PagerDuty routing key")
		if f.URL != "" {
			v.httpURL("url", f.URL, true)
		}
	case pb.ChannelType_CHANNEL_TYPE_EMAIL:
		c.Smtp = v.email(f)
	}
	return c
}

// only refuses the fields another type of channel uses.
func (v *checker) only(f *file, t pb.ChannelType) {
	used := map[string]bool{
		"url":                f.URL != "" && t != pb.ChannelType_CHANNEL_TYPE_WEBHOOK && t != pb.ChannelType_CHANNEL_TYPE_PAGERDUTY,
		"signing_secret":     f.SigningSecret != "" && t != pb.ChannelType_CHANNEL_TYPE_WEBHOOK,
		"webhook_url_secret": f.WebhookURLSecret != "" && t != pb.ChannelType_CHANNEL_TYPE_SLACK,
		"routing_key_secret": f.RoutingKeySecret != "" && t != pb.ChannelType_CHANNEL_TYPE_PAGERDUTY,
		"smtp":               f.SMTP != nil && t != pb.ChannelType_CHANNEL_TYPE_EMAIL,
		"from":               f.From != "" && t != pb.ChannelType_CHANNEL_TYPE_EMAIL,
		"to":                 len(f.To) > 0 && t != pb.ChannelType_CHANNEL_TYPE_EMAIL,
	}
	for _, field := range []string{"url", "signing_secret", "webhook_url_secret", "routing_key_secret", "smtp", "from", "to"} {
		if used[field] {
			v.addf(field, "is not used by a %s channel; remove it", f.Type)
		}
	}
}

func (v *checker) required(path, val, what string) {
	if val == "" {
		v.addf(path, "is required: %s", what)
	} else if !namePattern.MatchString(val) {
		// The value is not echoed: it may be the very secret the field should only name.
		v.addf(path, "is not a vault item name: give the name of a vault secret, never the secret itself")
	}
}

func (v *checker) httpURL(path, raw string, required bool) {
	if raw == "" {
		if required {
			v.addf(path, "is required: the https:// address to POST notifications to")
		}
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.addf(path, "must be an http:// or https:// URL")
		return
	}
	if u.User != nil {
		v.addf(path, "must not hold credentials; keep secrets in the vault")
	}
}

func (v *checker) email(f *file) *pb.SMTPServer {
	if f.SMTP == nil {
		v.addf("smtp", "is required: {host, port, username, password_secret, tls: starttls|tls|none}")
		return nil
	}
	s := &pb.SMTPServer{Host: f.SMTP.Host, Port: f.SMTP.Port, Username: f.SMTP.Username, PasswordSecret: f.SMTP.PasswordSecret}
	mode, ok := tlsModes[strings.ToLower(f.SMTP.TLS)]
	if !ok {
		v.addf("smtp.tls", "%q is not one of starttls, tls, none", f.SMTP.TLS)
	}
	s.Tls = mode
	if s.Host == "" {
		v.addf("smtp.host", "is required")
	}
	if mode == pb.SMTPTLS_SMTPTLS_NONE && s.Host != "" && !loopback(s.Host) {
		v.addf("smtp.tls", "none is allowed only for an SMTP relay on loopback (127.0.0.1, ::1, localhost), not %q: use starttls or tls", s.Host)
	}
	if s.Port == 0 {
		s.Port = map[pb.SMTPTLS]int32{pb.SMTPTLS_SMTPTLS_TLS: 465, pb.SMTPTLS_SMTPTLS_NONE: 25}[mode]
		if s.Port == 0 {
			s.Port = 587
		}
	} else if s.Port < 1 || s.Port > 65535 {
		v.addf("smtp.port", "must be between 1 and 65535")
	}
	if (s.Username == "") != (s.PasswordSecret == "") {
		v.addf("smtp.password_secret", "give username and password_secret together (the password is a vault secret)")
	} else if s.PasswordSecret != "" {
		v.required("smtp.password_secret", s.PasswordSecret, "")
	}
	v.addresses(f)
	return s
}

func (v *checker) addresses(f *file) {
	if !strings.Contains(f.From, "@") {
		v.addf("from", "is required: the sender's address")
	}
	if len(f.To) == 0 {
		v.addf("to", "is required: at least one recipient")
	}
	for i, to := range f.To {
		if !strings.Contains(to, "@") || strings.ContainsAny(to, "\r\n") {
			v.addf(fmt.Sprintf("to[%d]", i), "%q is not an email address", to)
		}
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SecretRefs lists the vault secrets a channel names, with their field paths.
func SecretRefs(c *pb.Channel) map[string]string {
	refs := map[string]string{}
	for path, name := range map[string]string{"signing_secret": c.SigningSecret, "webhook_url_secret": c.WebhookUrlSecret,
		"routing_key_secret": c.RoutingKeySecret, "smtp.password_secret": c.GetSmtp().GetPasswordSecret()} {
		if name != "" {
			refs[path] = name
		}
	}
	return refs
}
