package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, PEM.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "watchium test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// startServeTLS runs `serve` with args and returns the URL it prints.
func startServeTLS(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", ":memory:"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		re := regexp.MustCompile(`listening on (\S+),`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	select {
	case u := <-urls:
		return u
	case <-time.After(15 * time.Second):
		t.Fatalf("serve printed no address: %s", stderr.String())
	}
	return ""
}

func runEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestServeTLSAndTheClientTrustsSSLCertFile(t *testing.T) {
	cert, key := selfSigned(t)
	url := startServeTLS(t, "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("serve with TLS printed %q, want https://127.0.0.1:PORT", url)
	}
	// A certificate nobody vouches for is refused, and the error says so.
	_, stderr, code := runEnv(t, nil, "say", "movie", "hello", "--server", url, "--name", "ana")
	if code == 0 || !strings.Contains(stderr, "certificate") {
		t.Fatalf("say to an untrusted certificate: exit %d, stderr %q", code, stderr)
	}
	// SSL_CERT_FILE makes it trusted: sign-in over HTTPS, the channel over WSS.
	_, stderr, code = runEnv(t, []string{"SSL_CERT_FILE=" + cert}, "say", "movie", "hello", "--server", url, "--name", "ana")
	if code != 0 {
		t.Fatalf("say over TLS with SSL_CERT_FILE: exit %d: %s", code, stderr)
	}
	out, stderr, code := runEnv(t, []string{"SSL_CERT_FILE=" + cert}, "members", "movie", "--json", "--server", url)
	if code != 0 || !json.Valid([]byte(out)) {
		t.Fatalf("members over TLS: exit %d %s %s", code, out, stderr)
	}
}

func TestServeTLSFlagsGoTogether(t *testing.T) {
	cert, _ := selfSigned(t)
	_, stderr, code := runEnv(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", ":memory:", "--tls-cert", cert)
	if code == 0 || !strings.Contains(stderr, "--tls-key") {
		t.Errorf("--tls-cert alone: exit %d %q", code, stderr)
	}
	_, stderr, code = runEnv(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", ":memory:", "--tls-cert", cert, "--tls-key", cert)
	if code == 0 || !strings.Contains(stderr, "cannot load the TLS certificate") {
		t.Errorf("a certificate as its own key: exit %d %q", code, stderr)
	}
}
