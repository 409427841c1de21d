package channelfile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func TestParseChannels(t *testing.T) {
	got, err := Parse([]byte("name: mail\ntype: email\nsmtp: {host: smtp.example.net, username: lookout, password_secret: smtp-pw, tls: tls}\nfrom: lookout@example.net\nto: [ops@example.net]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &pb.Channel{Name: "mail", Type: pb.ChannelType_CHANNEL_TYPE_EMAIL, From: "lookout@example.net", To: []string{"ops@example.net"},
		Smtp: &pb.SMTPServer{Host: "smtp.example.net", Port: 465, Username: "lookout", PasswordSecret: "smtp-pw", Tls: pb.SMTPTLS_SMTPTLS_TLS}}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("email channel (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"smtp.password_secret": "smtp-pw"}, SecretRefs(got)); diff != "" {
		t.Errorf("SecretRefs (-want +got):\n%s", diff)
	}
}

func TestParseRefusesWithFieldPaths(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"unknown field":         {"name: h\ntype: webhook\nurl: https://x.example/\nsigning_secret: k\nsecret: oops\n", "secret: unknown field"},
		"bad type":              {"name: h\ntype: teams\n", `type: "teams" is not one of`},
		"webhook without url":   {"name: h\ntype: webhook\nsigning_secret: k\n", "url: is required"},
		"webhook without key":   {"name: h\ntype: webhook\nurl: https://x.example/\n", "signing_secret: is required"},
		"field of another type": {"name: h\ntype: slack\nwebhook_url_secret: k\nurl: https://x.example/\n", "url: is not used by a slack channel"},
		"credentials in url":    {"name: h\ntype: webhook\nurl: https://u:p@x.example/\nsigning_secret: k\n", "url: must not hold credentials"},
		"tls none off loopback": {"name: m\ntype: email\nsmtp: {host: mail.example.net, tls: none}\nfrom: a@x.example\nto: [b@x.example]\n", "smtp.tls: none is allowed only"},
		"bad recipient":         {"name: m\ntype: email\nsmtp: {host: 127.0.0.1, tls: none}\nfrom: a@x.example\nto: [nobody]\n", "to[0]:"},
		"user without password": {"name: m\ntype: email\nsmtp: {host: smtp.example.net, username: u}\nfrom: a@x.example\nto: [b@x.example]\n", "smtp.password_secret"},
		"bad name":              {"name: 'a b'\ntype: slack\nwebhook_url_secret: k\n", "name:"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("name: h\ntype: webhook\nurl: https://x.example/\nsigning_secret: k\n"))
	f.Add([]byte("name: m\ntype: email\nsmtp: {host: 127.0.0.1, tls: none}\nfrom: a@x\nto: [b@x]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse(src)
		if err == nil && (c.Name == "" || c.Type == pb.ChannelType_CHANNEL_TYPE_UNSPECIFIED) {
			t.Fatalf("accepted a channel without name or type: %v", c)
		}
	})
}
