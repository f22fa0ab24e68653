// Package gotrue checks identity against the real Supabase Auth server
// (GoTrue, built from the source snapshot in the shared fixtures) on a
// private PostgreSQL: our client signs in to it, `watchium-tui serve`
// accepts its tokens, the Supabase migration's row-level security works
// with its users, and the embedded server's /auth/v1 answers have the same
// shape as its own.
package gotrue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// secret is shared by GoTrue and our server, as on a self-hosted project.
const secret = "watchium-gotrue-test-secret-0123456789abcdef"

var watchium string // the watchium-tui binary under test

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "watchium-gotrue")
	if err != nil {
		panic(err)
	}
	watchium = filepath.Join(dir, "watchium-tui")
	if out, err := exec.Command("go", "build", "-o", watchium, "../../cmd/watchium-tui").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// --- PostgreSQL -------------------------------------------------------------

type pg struct {
	t      *testing.T
	bin    string
	dir    string
	port   int
	asUser []string
}

func findPGBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	if len(dirs) == 0 {
		return ""
	}
	return dirs[len(dirs)-1]
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPG runs a private PostgreSQL on 127.0.0.1 (GoTrue connects over
// TCP), as test/supabase does, run as the postgres user when we are root.
func startPG(t *testing.T) *pg {
	t.Helper()
	bin := findPGBin()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL is required in CI (.ci/run installs it)")
		}
		t.Skip("skipped: PostgreSQL server binaries are not installed (apt-get install postgresql), so Supabase Auth cannot run")
	}
	dir, err := os.MkdirTemp("", "watchium-gotrue-pg")
	if err != nil {
		t.Fatal(err)
	}
	p := &pg{t: t, bin: bin, dir: dir, port: freePort(t)}
	if u, _ := user.Current(); u != nil && u.Uid == "0" {
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
		if out, err := exec.Command("chown", "-R", "postgres:postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	p.run(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	p.run(filepath.Join(bin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-w", "-t", "30", "-l", filepath.Join(dir, "log"),
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -k %s -p %d -c fsync=off", dir, p.port), "start")
	t.Cleanup(func() {
		_ = p.cmd(filepath.Join(bin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	})
	return p
}

func (p *pg) cmd(args ...string) *exec.Cmd {
	all := append(append([]string(nil), p.asUser...), args...)
	return exec.Command(all[0], all[1:]...)
}

func (p *pg) run(args ...string) {
	p.t.Helper()
	if out, err := p.cmd(args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		p.t.Fatalf("%v: %v\n%s\n%s", args, err, out, log)
	}
}

func (p *pg) psql(sql string) (string, error) {
	c := p.cmd("psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", p.dir, "-p", strconv.Itoa(p.port), "-U", "postgres", "-d", "postgres")
	c.Stdin = strings.NewReader(sql)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

func (p *pg) mustSQL(sql string) string {
	p.t.Helper()
	out, err := p.psql(sql)
	if err != nil {
		p.t.Fatalf("%s\n%v", sql, err)
	}
	return out
}

// --- Supabase Auth ----------------------------------------------------------

// authTarball finds the Supabase Auth source snapshot.
func authTarball() string {
	var candidates []string
	if env := os.Getenv("WATCHIUM_SUPABASE_AUTH_TARBALL"); env != "" {
		candidates = append(candidates, env)
	}
	for _, pattern := range []string{"../../../shared/fixtures/supabase-auth-*.tar.gz", "/work/shared/fixtures/supabase-auth-*.tar.gz"} {
		m, _ := filepath.Glob(pattern)
		sort.Strings(m)
		candidates = append(candidates, m...)
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return ""
}

// authBinary builds Supabase Auth from the tarball once per tarball
// content: the binary is cached under the user's cache dir, keyed by the
// tarball's hash, so reruns (and CI on a clean checkout of this repo) skip
// the few-minute build.
func authBinary(t *testing.T) string {
	t.Helper()
	tarball := authTarball()
	if tarball == "" {
		t.Fatal("the Supabase Auth source (supabase-auth-*.tar.gz) is not in ../shared/fixtures; set WATCHIUM_SUPABASE_AUTH_TARBALL")
	}
	data, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "watchium-test", "supabase-auth-"+hex.EncodeToString(sum[:8]))
	bin := filepath.Join(dir, "auth")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building Supabase Auth from %s into %s (once; takes a few minutes)", tarball, dir)
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xzf", tarball, "-C", src).CombinedOutput(); err != nil {
		t.Fatalf("extracting %s: %v %s", tarball, err, out)
	}
	mods, _ := filepath.Glob(filepath.Join(src, "*", "go.mod"))
	if len(mods) == 0 {
		t.Fatalf("no go.mod in %s", tarball)
	}
	tmp := bin + fmt.Sprintf(".tmp%d", os.Getpid())
	build := exec.Command("go", "build", "-o", tmp, ".")
	build.Dir = filepath.Dir(mods[0])
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building Supabase Auth: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// startAuth prepares the database as init_postgres.sh does, migrates, and
// serves Supabase Auth on 127.0.0.1; it returns Auth's base URL.
func startAuth(t *testing.T, p *pg) string {
	t.Helper()
	bin := authBinary(t)
	p.mustSQL(`
create user supabase_auth_admin noinherit createrole login password 'root';
create schema if not exists auth authorization supabase_auth_admin;
grant create on database postgres to supabase_auth_admin;
alter user supabase_auth_admin set search_path = 'auth';`)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := append(os.Environ(),
		"GOTRUE_JWT_SECRET="+secret, "GOTRUE_JWT_EXP=3600", "GOTRUE_JWT_AUD=authenticated",
		"GOTRUE_JWT_DEFAULT_GROUP_NAME=authenticated", "GOTRUE_JWT_ADMIN_ROLES=supabase_admin,service_role",
		"GOTRUE_DB_DRIVER=postgres", "DB_NAMESPACE=auth",
		fmt.Sprintf("DATABASE_URL=postgres://supabase_auth_admin:root@127.0.0.1:%d/postgres?sslmode=disable", p.port),
		"API_EXTERNAL_URL="+base, "GOTRUE_API_HOST=127.0.0.1", "PORT="+strconv.Itoa(port),
		"GOTRUE_SITE_URL=http://127.0.0.1:3000",
		"GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED=true", "GOTRUE_MAILER_AUTOCONFIRM=true",
		"GOTRUE_RATE_LIMIT_ANONYMOUS_USERS=1000", "GOTRUE_LOG_LEVEL=warn",
		"GOTRUE_EXTERNAL_EMAIL_ENABLED=true", "GOTRUE_RATE_LIMIT_EMAIL_SENT=1000",
	)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	migrate := exec.Command(bin, "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("auth migrate: %v\n%s", err, out)
	}
	serve := exec.Command(bin, "serve")
	serve.Env, serve.Stdout, serve.Stderr = env, logFile, logFile
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = serve.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = serve.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = serve.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("Supabase Auth log:\n%s", log)
		}
		logFile.Close()
	})
	waitHTTP(t, base+"/health")
	return base
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startWatchium runs `watchium-tui serve` with the shared secret.
func startWatchium(t *testing.T, extra ...string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"serve", "--addr", addr, "--data", t.TempDir(), "--jwt-secret", secret}, extra...)
	cmd := exec.Command(watchium, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	waitHTTP(t, "http://"+addr+"/healthz")
	return "http://" + addr
}

// gateway is the small reverse proxy Supabase puts in front: /auth/v1/* to
// Auth with the prefix stripped, everything else to the realtime server.
func gateway(t *testing.T, authURL, watchiumURL string) string {
	t.Helper()
	a, _ := url.Parse(authURL)
	w, _ := url.Parse(watchiumURL)
	toAuth := httputil.NewSingleHostReverseProxy(a)
	toWatchium := httputil.NewSingleHostReverseProxy(w)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/auth/v1"); ok {
			r.URL.Path = rest
			r.URL.RawPath = ""
			toAuth.ServeHTTP(rw, r)
			return
		}
		toWatchium.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// --- the client -------------------------------------------------------------

// cli runs watchium-tui with its own config dir (one person) and returns
// stdout, failing on a non-zero exit.
func cli(t *testing.T, config string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, watchium, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + config, "XDG_CONFIG_HOME=" + config}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("watchium-tui %v: %v\nstdout: %s\nstderr: %s", args, err, out.String(), errb.String())
	}
	return out.String()
}

type whoami struct {
	ID          string `json:"id"`
	IsAnonymous bool   `json:"is_anonymous"`
	Username    string `json:"username"`
	Server      string `json:"server"`
}

func TestClientAgainstSupabaseAuth(t *testing.T) {
	p := startPG(t)
	authURL := startAuth(t, p)
	ours := startWatchium(t)
	gw := gateway(t, authURL, ours)

	ana := t.TempDir()
	cli(t, ana, "login", "--server", gw, "--name", "ana")
	var me whoami
	if err := json.Unmarshal([]byte(cli(t, ana, "whoami", "--json", "--server", gw)), &me); err != nil {
		t.Fatal(err)
	}
	if me.ID == "" || !me.IsAnonymous || me.Username != "ana" || me.Server != gw {
		t.Fatalf("whoami: %+v", me)
	}
	if n := p.mustSQL(`select count(*) from auth.users where id = '` + me.ID + `' and is_anonymous and raw_user_meta_data->>'name' = 'ana'`); n != "1" {
		t.Fatalf("user %s in auth.users: %s", me.ID, n)
	}
	files, _ := filepath.Glob(filepath.Join(ana, "watchium", "sessions", "*.json"))
	if len(files) != 1 {
		t.Fatalf("session files: %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file mode: %v %v", fi.Mode(), err)
	}

	// Bob tails the room (signing in as someone else); Ana's say arrives
	// stamped with her id, through our server, which verified her
	// Supabase-issued token.
	bob := t.TempDir()
	lines := tail(t, bob, gw, "movie")
	cli(t, ana, "say", "movie", "hello from a real user", "--server", gw)
	for {
		select {
		case l := <-lines:
			var ev struct {
				Type    string `json:"type"`
				Payload struct {
					UserID   string `json:"user_id"`
					Username string `json:"username"`
					Content  string `json:"content"`
				} `json:"payload"`
			}
			if json.Unmarshal([]byte(l), &ev) != nil || ev.Type != "new_comment" {
				continue
			}
			if ev.Payload.UserID != me.ID || ev.Payload.Username != "ana" {
				t.Fatalf("comment stamped %q (%s), want %s (ana)", ev.Payload.UserID, ev.Payload.Username, me.ID)
			}
			// Stored too: our REST accepted the Supabase token.
			if n := countComments(t, ours, me.ID); n != 1 {
				t.Fatalf("stored comments by %s: %d", me.ID, n)
			}
			cli(t, ana, "logout", "--server", gw)
			if n := p.mustSQL(`select count(*) from auth.sessions where user_id = '` + me.ID + `'`); n != "0" {
				t.Fatalf("sessions left after logout: %s", n)
			}
			return
		case <-time.After(20 * time.Second):
			t.Fatal("the comment never reached tail")
		}
	}
}

func countComments(t *testing.T, server, userID string) int {
	t.Helper()
	resp, err := http.Get(server + "/rest/v1/comments?user_id=eq." + userID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rows []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

// tail starts `watchium-tui tail` and returns its lines once it is in the
// room (its subscription is visible in the server's presence-free room
// count would be racy, so it waits for the tail's own member in members).
func tail(t *testing.T, config, server, roomID string) <-chan string {
	t.Helper()
	cmd := exec.Command(watchium, "tail", roomID, "--server", server)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + config, "XDG_CONFIG_HOME=" + config}
	out, _ := cmd.StdoutPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// tail prints nothing until an event; it has joined once the server
	// counts its connection's room.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var h struct{ Rooms int }
		if resp, err := http.Get(strings.TrimSuffix(server, "/") + "/healthz"); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		if h.Rooms > 0 {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("tail never joined: %s", errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --- the Supabase migration with real users ---------------------------------

func TestMigrationRLSWithSupabaseAuthUsers(t *testing.T) {
	p := startPG(t)
	authURL := startAuth(t, p)
	// What a Supabase database has besides Auth's schema: the API roles.
	p.mustSQL(`
create role anon nologin;
create role authenticated nologin;
create role service_role nologin bypassrls;
grant usage on schema auth to anon, authenticated, service_role;
grant execute on function auth.uid() to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;`)
	files, _ := filepath.Glob("../../supabase/migrations/*.sql")
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no migrations")
	}
	for _, f := range files {
		sql, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.psql(string(sql)); err != nil {
			t.Fatalf("migration %s: %v", filepath.Base(f), err)
		}
	}
	ana, bob := signUpAt(t, authURL), signUpAt(t, authURL)
	// PostgREST's way: the role from the token, and its claims verbatim.
	as := func(token, sql string) (string, error) {
		claims := tokenClaims(t, token)
		return p.psql(fmt.Sprintf("begin;\nset local role authenticated;\nselect set_config('request.jwt.claims', %s, true) \\g /dev/null\n%s\ncommit;",
			quote(string(claims)), sql))
	}
	must := func(token, sql string) string {
		t.Helper()
		out, err := as(token, sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return out
	}
	if got := must(ana.Access, `select auth.uid();`); got != ana.UserID {
		t.Fatalf("auth.uid() with ana's real token: %q, want %s", got, ana.UserID)
	}
	must(ana.Access, `select room_id from public.sync_control('movie', 'pause', 0);`)
	must(ana.Access, `insert into public.room_members (room_id, user_id, username) values ('movie', auth.uid()::text, 'ana');`)
	must(bob.Access, `insert into public.room_members (room_id, user_id, username) values ('movie', auth.uid()::text, 'bob');`)
	must(bob.Access, `insert into public.comments (room_id, user_id, username, content) values ('movie', auth.uid()::text, 'bob', 'hi');`)
	if _, err := as(bob.Access, `insert into public.comments (room_id, user_id, username, content) values ('movie', '`+ana.UserID+`', 'ana', 'forged');`); err == nil {
		t.Fatal("bob posted as ana")
	}
	if _, err := as(bob.Access, `select public.sync_control('movie', 'play', 1);`); err == nil {
		t.Fatal("bob controlled ana's room")
	}
	if got := must(ana.Access, `select string_agg(username || ':' || content, ',') from public.comments;`); got != "bob:hi" {
		t.Fatalf("ana reads the chat: %q", got)
	}
}

type signedIn struct {
	Access, Refresh, UserID string
}

func signUpAt(t *testing.T, authURL string) signedIn {
	t.Helper()
	status, body := do(t, "POST", authURL+"/signup", "", `{}`)
	var s struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		User         struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if status != 200 || json.Unmarshal(body, &s) != nil {
		t.Fatalf("signup: %d %s", status, body)
	}
	return signedIn{s.AccessToken, s.RefreshToken, s.User.ID}
}

func tokenClaims(t *testing.T, token string) []byte {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func do(t *testing.T, method, url, bearer, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// --- same shapes as Supabase Auth -------------------------------------------

// shape describes a JSON value by its keys and types, recursively for
// objects; arrays by their first element.
func shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, vv := range x {
			m[k] = shape(vv)
		}
		return m
	case []any:
		if len(x) == 0 {
			return "array"
		}
		return []any{shape(x[0])}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// diffShapes lists where got's shape differs from want's.
func diffShapes(path string, want, got any) []string {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if !wok || !gok {
		ws, _ := json.Marshal(want)
		gs, _ := json.Marshal(got)
		if string(ws) != string(gs) {
			return []string{fmt.Sprintf("%s: Supabase Auth %s, ours %s", path, ws, gs)}
		}
		return nil
	}
	var diffs []string
	for k, wv := range wm {
		gv, ok := gm[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s.%s: missing in ours (Supabase Auth: %v)", path, k, wv))
			continue
		}
		diffs = append(diffs, diffShapes(path+"."+k, wv, gv)...)
	}
	for k := range gm {
		if _, ok := wm[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s.%s: only in ours", path, k))
		}
	}
	sort.Strings(diffs)
	return diffs
}

type exchange struct {
	status int
	body   any
	claims any // of an access token in the body
}

// script runs the calls the client makes against base (an /auth/v1 root)
// and records each answer.
func script(t *testing.T, base string) map[string]exchange {
	t.Helper()
	out := map[string]exchange{}
	record := func(name string, status int, body []byte) map[string]any {
		var v any
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%s at %s: not JSON: %s", name, base, body)
			}
		}
		ex := exchange{status: status, body: v}
		m, _ := v.(map[string]any)
		if tok, ok := m["access_token"].(string); ok {
			var c any
			_ = json.Unmarshal(tokenClaims(t, tok), &c)
			ex.claims = c
		}
		out[name] = ex
		return m
	}
	s, b := do(t, "POST", base+"/signup", "", `{"data":{},"gotrue_meta_security":{}}`)
	first := record("signup", s, b)
	access, _ := first["access_token"].(string)
	refresh, _ := first["refresh_token"].(string)
	s, b = do(t, "POST", base+"/token?grant_type=refresh_token", "", `{"refresh_token":"`+refresh+`"}`)
	second := record("refresh", s, b)
	s, b = do(t, "GET", base+"/user", access, "")
	record("get user", s, b)
	s, b = do(t, "PUT", base+"/user", access, `{"data":{"name":"ana","avatar_url":"https://example.com/a.png"}}`)
	record("put user", s, b)
	s, b = do(t, "POST", base+"/token?grant_type=refresh_token", "", `{"refresh_token":"no-such-token"}`)
	record("refresh unknown token", s, b)
	s, b = do(t, "GET", base+"/user", "", "")
	record("get user without token", s, b)
	s, b = do(t, "GET", base+"/user", access[:len(access)-4]+"AAAA", "")
	record("get user with tampered token", s, b)
	next, _ := second["access_token"].(string)
	s, b = do(t, "POST", base+"/logout", next, "")
	record("logout", s, b)
	s, b = do(t, "GET", base+"/user", next, "")
	record("get user after logout", s, b)
	return out
}

func TestAuthAnswersHaveSupabaseAuthShapes(t *testing.T) {
	p := startPG(t)
	authURL := startAuth(t, p)
	ours := startWatchium(t)
	theirs := script(t, authURL)
	mine := script(t, ours+"/auth/v1")
	names := make([]string, 0, len(theirs))
	for n := range theirs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		want, got := theirs[n], mine[n]
		if want.status != got.status {
			t.Errorf("%s: HTTP %d from Supabase Auth, %d from ours (%v / %v)", n, want.status, got.status, want.body, got.body)
		}
		for _, d := range diffShapes(n, shape(want.body), shape(got.body)) {
			t.Errorf("body %s", d)
		}
		if want.claims != nil || got.claims != nil {
			for _, d := range diffShapes(n+" token", shape(want.claims), shape(got.claims)) {
				t.Errorf("claims %s", d)
			}
		}
		t.Logf("%s: HTTP %d, body %v", n, want.status, want.body)
	}
}

// TestEmailCodeLoginAgainstSupabaseAuth walks `login --email` through the
// real server. Auth runs without SMTP (its no-op mailer), so the test plays
// the mailbox: once the client has asked for a code, it stores the hash of a
// code it chose, the way Auth stores the one it mails, and types that code.
func TestEmailCodeLoginAgainstSupabaseAuth(t *testing.T) {
	p := startPG(t)
	authURL := startAuth(t, p)
	gw := gateway(t, authURL, startWatchium(t))
	config := t.TempDir()
	const email, code = "ana@example.com", "123456"

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, watchium, "login", "--server", gw, "--email", email, "--name", "ana")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + config, "XDG_CONFIG_HOME=" + config}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	prompt := make([]byte, 0, 256)
	buf := make([]byte, 256)
	for !strings.Contains(string(prompt), "type it here") {
		n, err := stdout.Read(buf)
		prompt = append(prompt, buf[:n]...)
		if err != nil {
			_ = cmd.Wait()
			t.Fatalf("login never asked for the code: %q %s", prompt, errb.String())
		}
	}
	sum := sha256.Sum224([]byte(email + code))
	hash := hex.EncodeToString(sum[:])
	p.mustSQL(`update auth.users set confirmation_token = '` + hash + `', confirmation_sent_at = now(),
		recovery_token = '` + hash + `', recovery_sent_at = now() where email = '` + email + `'`)
	fmt.Fprintln(stdin, code)
	rest, _ := io.ReadAll(stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("login --email: %v\n%s%s\n%s", err, prompt, rest, errb.String())
	}
	var me whoami
	if err := json.Unmarshal([]byte(cli(t, config, "whoami", "--json", "--server", gw)), &me); err != nil {
		t.Fatal(err)
	}
	if me.IsAnonymous || me.Username != "ana" {
		t.Fatalf("whoami after email login: %+v", me)
	}
	if got := p.mustSQL(`select email from auth.users where id = '` + me.ID + `'`); got != email {
		t.Fatalf("user %s has email %q", me.ID, got)
	}
}
