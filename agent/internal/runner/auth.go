package runner

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	ntlmssp "github.com/Azure/go-ntlmssp"
	"github.com/icholy/digest"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// authPlan is the part of a step's authentication that happens while the
// request is exchanged (digest, NTLM) or just before (OAuth2), rather than as
// a header fixed in advance (basic, bearer).
type authPlan struct {
	kind     lookoutv1.AuthType
	credName string
	cred     Credential
	tokenURL string
	scopes   []string
}

// applyAuth adds the Authorization header the step's auth asks for,
// replacing one set by hand, or plans the authentication done during the
// exchange. Secrets it uses are remembered for redaction.
func (rs *runState) applyAuth(p *preparedRequest, auth *lookoutv1.Auth) error {
	switch auth.GetType() {
	case lookoutv1.AuthType_AUTH_TYPE_DIGEST, lookoutv1.AuthType_AUTH_TYPE_NTLM:
		return rs.planCredentialAuth(p, auth)
	case lookoutv1.AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS:
		return rs.planOAuth2(p, auth)
	}
	value, err := rs.authorization(auth)
	if err != nil || value == "" {
		return err
	}
	p.headers = append(removeHeader(p.headers, "Authorization"),
		&lookoutv1.Header{Name: "Authorization", Value: value})
	return nil
}

func (rs *runState) authorization(auth *lookoutv1.Auth) (string, error) {
	switch auth.GetType() {
	case lookoutv1.AuthType_AUTH_TYPE_BASIC:
		cred, err := rs.credential(auth)
		if err != nil {
			return "", err
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(cred.Username+":"+cred.Password)), nil
	case lookoutv1.AuthType_AUTH_TYPE_BEARER:
		token, err := rs.expand(auth.GetToken())
		if err != nil {
			return "", err
		}
		rs.hide(secretForms(token)...)
		return "Bearer " + token, nil
	}
	return "", nil
}

// authWord names an auth type in messages: "digest", "oauth2_client_credentials".
func authWord(t lookoutv1.AuthType) string {
	return strings.ToLower(strings.TrimPrefix(t.String(), "AUTH_TYPE_"))
}

// credential looks up the vault credential set the auth names, or expands
// the user name and password it gives from variables.
func (rs *runState) credential(auth *lookoutv1.Auth) (Credential, error) {
	name := auth.GetCredentials()
	if name == "" && (auth.GetUsername() != "" || auth.GetPassword() != "") {
		return rs.inlineCredential(auth)
	}
	if name == "" {
		return Credential{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
			"%s authentication names no credential set", authWord(auth.GetType()))
	}
	cred, ok := rs.secrets.Credentials[name]
	if !ok {
		return Credential{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
			"credential set %q was not provided for this run", name)
	}
	rs.hide(basicForms(cred)...)
	return cred, nil
}

// inlineCredential expands an auth's username and {{password}} variable. The
// password is hidden from results even when it came from a plain variable or
// an extraction: it was used as a password.
func (rs *runState) inlineCredential(auth *lookoutv1.Auth) (Credential, error) {
	user, err := rs.expand(auth.GetUsername())
	if err != nil {
		return Credential{}, err
	}
	pass, err := rs.expand(auth.GetPassword())
	if err != nil {
		return Credential{}, err
	}
	if pass == "" {
		return Credential{}, failf(lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE,
			"%s authentication: the password variable %s is empty", authWord(auth.GetType()), strings.TrimSpace(auth.GetPassword()))
	}
	cred := Credential{Username: user, Password: pass}
	rs.hide(basicForms(cred)...)
	return cred, nil
}

func (rs *runState) planCredentialAuth(p *preparedRequest, auth *lookoutv1.Auth) error {
	cred, err := rs.credential(auth)
	if err != nil {
		return err
	}
	p.auth = authPlan{kind: auth.GetType(), credName: credKey(auth, cred), cred: cred}
	return nil
}

func (rs *runState) planOAuth2(p *preparedRequest, auth *lookoutv1.Auth) error {
	cred, err := rs.credential(auth)
	if err != nil {
		return err
	}
	tokenURL, err := rs.expand(auth.GetTokenUrl())
	if err != nil {
		return err
	}
	if u, err := url.Parse(tokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_HTTP,
			"invalid OAuth2 token URL %q: want an absolute http:// or https:// URL", tokenURL)
	}
	scopes := make([]string, 0, len(auth.GetScopes()))
	for _, s := range auth.GetScopes() {
		v, err := rs.expand(s)
		if err != nil {
			return err
		}
		scopes = append(scopes, v)
	}
	p.auth = authPlan{kind: auth.GetType(), credName: credKey(auth, cred), cred: cred, tokenURL: tokenURL, scopes: scopes}
	return nil
}

// credKey names a credential for the per-run token and digest caches: the
// vault set's name, or for a user name and password from variables the
// values themselves (they may change between steps). It never leaves memory.
func credKey(auth *lookoutv1.Auth, cred Credential) string {
	if name := auth.GetCredentials(); name != "" {
		return "vault:" + name
	}
	return "inline:" + cred.Username + "\x00" + cred.Password
}

// tokenKey identifies a cached OAuth2 token within a run.
type tokenKey struct {
	credName, tokenURL, scopes string
	transport                  transportKey
}

// addToken fetches (or reuses) the OAuth2 token the plan asks for and sets
// it as the bearer token. Tokens are kept for the rest of the run.
func (rs *runState) addToken(ctx context.Context, p *preparedRequest, id identity) error {
	if p.auth.kind != lookoutv1.AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS {
		return nil
	}
	// The token endpoint is usually another host: the step's client
	// certificate, certificate checks and extra CAs apply, its server name
	// and HTTP version do not.
	plan := tlsPlan{insecure: p.tls.insecure, minVersion: p.tls.minVersion, maxVersion: p.tls.maxVersion, caBundle: p.tls.caBundle}
	t, tk := rs.transports.get(id, plan)
	key := tokenKey{credName: p.auth.credName, tokenURL: p.auth.tokenURL,
		scopes: strings.Join(p.auth.scopes, " "), transport: tk}
	tok := rs.tokens[key]
	if tok == nil || !tok.Valid() {
		var err error
		if tok, err = fetchToken(ctx, p.auth, t); err != nil {
			return err
		}
		rs.tokens[key] = tok
		rs.hide(secretForms(tok.AccessToken)...)
	}
	p.headers = append(removeHeader(p.headers, "Authorization"),
		&lookoutv1.Header{Name: "Authorization", Value: "Bearer " + tok.AccessToken})
	return nil
}

// fetchToken asks the token endpoint for a client-credentials token over t.
func fetchToken(ctx context.Context, plan authPlan, t http.RoundTripper) (*oauth2.Token, error) {
	cfg := clientcredentials.Config{ClientID: plan.cred.Username, ClientSecret: plan.cred.Password,
		TokenURL: plan.tokenURL, Scopes: plan.scopes}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: t, CheckRedirect: noRedirects})
	tok, err := cfg.Token(ctx)
	if err == nil {
		return tok, nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return nil, failf(lookoutv1.ErrorClass_ERROR_CLASS_HTTP, "OAuth2 token request to %s failed: %s",
			plan.tokenURL, retrieveReason(re))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		class, msg := classOf(classifyTransport(err))
		return nil, failf(class, "OAuth2 token request to %s failed: %s", plan.tokenURL, msg)
	}
	return nil, failf(lookoutv1.ErrorClass_ERROR_CLASS_HTTP, "OAuth2 token request to %s failed: %s",
		plan.tokenURL, strings.TrimPrefix(err.Error(), "oauth2: "))
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// retrieveReason words a token endpoint's refusal.
func retrieveReason(re *oauth2.RetrieveError) string {
	status := "no response"
	if re.Response != nil {
		status = re.Response.Status
	}
	switch {
	case re.ErrorCode != "" && re.ErrorDescription != "":
		return "status " + status + ": " + re.ErrorCode + " (" + re.ErrorDescription + ")"
	case re.ErrorCode != "":
		return "status " + status + ": " + re.ErrorCode
	}
	return "status " + status
}

// authTransport wraps t with the digest or NTLM exchange the plan asks for.
// Only requests to origin (the step URL's host) are authenticated: a redirect
// to another host gets no credentials.
func (rs *runState) authTransport(t http.RoundTripper, tk transportKey, plan authPlan, origin string) http.RoundTripper {
	var auth http.RoundTripper
	switch plan.kind {
	case lookoutv1.AuthType_AUTH_TYPE_DIGEST:
		auth = rs.digestTransport(t, tk, plan)
	case lookoutv1.AuthType_AUTH_TYPE_NTLM:
		auth = ntlmTransport{next: ntlmssp.Negotiator{RoundTripper: t}, cred: plan.cred}
	default:
		return t
	}
	return originOnly{origin: origin, auth: auth, plain: t}
}

// digestKey identifies a digest client (and its cached challenge) in a run.
type digestKey struct {
	transport transportKey
	credName  string
}

// digestTransport returns the run's digest client for these credentials, so
// a later step to the same host reuses the challenge (with a higher nc).
func (rs *runState) digestTransport(t http.RoundTripper, tk transportKey, plan authPlan) *digest.Transport {
	key := digestKey{transport: tk, credName: plan.credName}
	if d, ok := rs.digests[key]; ok {
		return d
	}
	d := &digest.Transport{Username: plan.cred.Username, Password: plan.cred.Password, Transport: t}
	rs.digests[key] = d
	return d
}

// ntlmTransport hands the credentials to the NTLM negotiator, which needs
// them as basic auth on the request it sees; the request the step records
// never carries them. The negotiator never sends them as basic auth.
type ntlmTransport struct {
	next ntlmssp.Negotiator
	cred Credential
}

func (n ntlmTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.SetBasicAuth(n.cred.Username, n.cred.Password)
	return n.next.RoundTrip(req)
}

// originOnly sends requests for origin through auth and the rest through plain.
type originOnly struct {
	origin      string
	auth, plain http.RoundTripper
}

func (o originOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.EqualFold(req.URL.Host, o.origin) {
		return o.auth.RoundTrip(req)
	}
	return o.plain.RoundTrip(req)
}
