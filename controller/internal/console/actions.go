package console

import (
	"cmp"
	"net/http"
	"net/url"
	"strings"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessionOf(r); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", nil, page{Title: "Sign in"})
}

// login exchanges a token for a session. The token travels only in the form's body; it is never
// logged or put in a URL; the session keeps it in memory only, to check it again on every request.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	token := strings.TrimSpace(r.PostFormValue("token"))
	if c.logins.blocked(r.RemoteAddr) {
		c.render(w, r, http.StatusTooManyRequests, "login", nil, page{Title: "Sign in", Body: "Too many refused sign-ins: wait a minute and try again."})
		return
	}
	who, err := c.o.Tokens.CheckToken(r.Context(), token)
	if token == "" || err != nil {
		c.logins.refused(r.RemoteAddr)
		c.signInRefused(r, token, err)
		c.render(w, r, http.StatusUnauthorized, "login", nil, page{Title: "Sign in", Body: "That token is not valid for this controller. Use the admin token (<data-dir>/admin.token) or a results:read token."})
		return
	}
	id, _ := c.sessions.create(who, token)
	c.setCookie(w, id, int(c.o.SessionTTL.Seconds()))
	c.o.Logger.Info("console sign-in", "who", who.Name, "scope", who.Scope.String(), "remote", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// signInRefused logs a refused sign-in and has Options.Audit record it, never with the token.
func (c *Console) signInRefused(r *http.Request, token string, err error) {
	c.o.Logger.Warn("console sign-in refused", "remote", r.RemoteAddr)
	if c.o.Audit != nil {
		c.o.Audit.SignInRefused(r.Context(), r.RemoteAddr, token, cmp.Or(err, ErrUnknownToken))
	}
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, ss *session) {
	c.sessions.end(ss)
	c.setCookie(w, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func monitorURL(name string) string { return "/monitors/" + url.PathEscape(name) }

func (c *Console) runNow(w http.ResponseWriter, r *http.Request, ss *session) {
	name := r.PathValue("name")
	resp, err := c.o.Backend.TriggerRun(r.Context(), &pb.TriggerRunRequest{Monitor: name, Checkpoint: r.PostFormValue("checkpoint")})
	if err != nil {
		c.backendFailed(w, r, ss, "run monitor "+name, err)
		return
	}
	if len(resp.Runs) == 1 {
		http.Redirect(w, r, "/runs/"+url.PathEscape(resp.Runs[0].RunId), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, monitorURL(name), http.StatusSeeOther)
}

func (c *Console) pause(paused bool) sessionHandler {
	return func(w http.ResponseWriter, r *http.Request, ss *session) {
		name := r.PathValue("name")
		if _, err := c.o.Backend.SetMonitorPaused(r.Context(), &pb.SetMonitorPausedRequest{Name: name, Paused: paused}); err != nil {
			c.backendFailed(w, r, ss, "change monitor "+name, err)
			return
		}
		http.Redirect(w, r, monitorURL(name), http.StatusSeeOther)
	}
}

// maxMute bounds a mute typed into the form.
const maxMute = 30 * 24 * time.Hour

func (c *Console) mute(w http.ResponseWriter, r *http.Request, ss *session) {
	if c.o.Muter == nil {
		c.fail(w, r, ss, http.StatusNotFound, "Alerting is not enabled on this controller, so there is nothing to mute.")
		return
	}
	name := r.PathValue("name")
	d, err := time.ParseDuration(r.PostFormValue("for"))
	if err != nil || d <= 0 || d > maxMute {
		c.fail(w, r, ss, http.StatusBadRequest, "for: give how long to mute, between 1m and 720h (e.g. 2h).")
		return
	}
	if err := c.o.Muter.Mute(r.Context(), name, d, r.PostFormValue("reason")); err != nil {
		c.backendFailed(w, r, ss, "mute monitor "+name, err)
		return
	}
	http.Redirect(w, r, monitorURL(name), http.StatusSeeOther)
}

func (c *Console) unmute(w http.ResponseWriter, r *http.Request, ss *session) {
	if c.o.Muter == nil {
		c.fail(w, r, ss, http.StatusNotFound, "Alerting is not enabled on this controller, so there is nothing to unmute.")
		return
	}
	name := r.PathValue("name")
	if err := c.o.Muter.Unmute(r.Context(), name); err != nil {
		c.backendFailed(w, r, ss, "unmute monitor "+name, err)
		return
	}
	http.Redirect(w, r, monitorURL(name), http.StatusSeeOther)
}
