package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Scope is what a token may do.
type Scope string

// The scopes. ResultsRead may read results, monitors, runs, status and alerts; Admin may do all.
const (
	ResultsRead Scope = "results:read"
	Admin       Scope = "admin"
)

// Allows says whether a token of scope s may call a method that needs need.
func (s Scope) Allows(need Scope) bool {
	return s == Admin || (s == ResultsRead && need == ResultsRead)
}

// ParseScope checks a scope a user typed.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case ResultsRead, Admin:
		return Scope(s), nil
	}
	return "", &InputError{Field: "scope", Msg: fmt.Sprintf("%q is not a scope: use results:read or admin", s)}
}

// Errors of Check, Create and Revoke.
var (
	ErrUnknown  = errors.New("token is not valid for this controller")
	ErrRevoked  = errors.New("token has been revoked")
	ErrNotFound = errors.New("no such token")
	ErrExists   = errors.New("a token with this name exists")
)

// InputError is a bad request, with the field it is about.
type InputError struct{ Field, Msg string }

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Token is a token's record: never its secret.
type Token struct {
	Name      string    `json:"name"`
	Scope     Scope     `json:"scope"`
	Hash      string    `json:"hash"` // hex SHA-256 of the secret
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Revoked says whether the token was revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

var (
	bByName = []byte("api_tokens")
	bByHash = []byte("api_token_hashes") // hash → name
)

// secretPrefix marks a Lookout API token, so secret scanners and people can recognise one.
const secretPrefix = "lkt_"

// Options configure Tokens.
type Options struct {
	DB  *bolt.DB
	Now func() time.Time // default time.Now
}

// Tokens is the token table.
type Tokens struct {
	db  *bolt.DB
	now func() time.Time
}

// Open prepares the buckets.
func Open(o Options) (*Tokens, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	err := o.DB.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bByName, bByHash} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("preparing token buckets: %w", err)
	}
	return &Tokens{db: o.DB, now: o.Now}, nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Create makes a token and returns its secret, which is not kept.
func (t *Tokens) Create(name string, scope Scope) (string, Token, error) {
	if !validName.MatchString(name) {
		return "", Token{}, &InputError{Field: "name", Msg: fmt.Sprintf("%q is not a token name: use 1–63 letters, digits, '.', '_' or '-'", name)}
	}
	if _, err := ParseScope(string(scope)); err != nil {
		return "", Token{}, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", Token{}, err
	}
	secret := secretPrefix + hex.EncodeToString(raw)
	tok := Token{Name: name, Scope: scope, Hash: hashOf(secret), CreatedAt: t.now().UTC()}
	err := t.db.Update(func(tx *bolt.Tx) error {
		if err := freeName(tx, name); err != nil {
			return err
		}
		if err := put(tx.Bucket(bByName), name, tok); err != nil {
			return err
		}
		return tx.Bucket(bByHash).Put([]byte(tok.Hash), []byte(name))
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, tok, nil
}

// freeName fails unless name is unused or names a revoked token, whose record it then drops: the
// name of a revoked token may be given to a new one.
func freeName(tx *bolt.Tx, name string) error {
	v := tx.Bucket(bByName).Get([]byte(name))
	if v == nil {
		return nil
	}
	var old Token
	if err := json.Unmarshal(v, &old); err != nil {
		return err
	}
	if !old.Revoked() {
		return fmt.Errorf("token %q: %w (revoke it first, or pick another name)", name, ErrExists)
	}
	return tx.Bucket(bByHash).Delete([]byte(old.Hash))
}

// List returns every token, revoked ones included, by name.
func (t *Tokens) List() ([]Token, error) {
	var out []Token
	err := t.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bByName).ForEach(func(_, v []byte) error {
			var tok Token
			if err := json.Unmarshal(v, &tok); err != nil {
				return err
			}
			out = append(out, tok)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Revoke ends a token's validity at once. Revoking a revoked token changes nothing.
func (t *Tokens) Revoke(name string) (Token, error) {
	var tok Token
	err := t.db.Update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bByName).Get([]byte(name))
		if v == nil {
			return fmt.Errorf("token %q: %w (`token list` shows the tokens)", name, ErrNotFound)
		}
		if err := json.Unmarshal(v, &tok); err != nil {
			return err
		}
		if tok.Revoked() {
			return nil
		}
		tok.RevokedAt = t.now().UTC()
		return put(tx.Bucket(bByName), name, tok)
	})
	return tok, err
}

// Check returns the record of a presented secret that is valid now.
func (t *Tokens) Check(secret string) (Token, error) {
	secret = strings.TrimSpace(secret)
	if !strings.HasPrefix(secret, secretPrefix) {
		return Token{}, ErrUnknown
	}
	var tok Token
	err := t.db.View(func(tx *bolt.Tx) error {
		name := tx.Bucket(bByHash).Get([]byte(hashOf(secret)))
		if name == nil {
			return ErrUnknown
		}
		v := tx.Bucket(bByName).Get(name)
		if v == nil {
			return ErrUnknown
		}
		return json.Unmarshal(v, &tok)
	})
	if err == nil && tok.Revoked() {
		err = ErrRevoked
	}
	return tok, err
}

// hashOf is the stored form of a secret. The secret has 256 random bits, so a fast hash is safe:
// nothing can be guessed from it, and it is looked up, never compared byte by byte.
func hashOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func put(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}
