package pki

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

var clock = func() time.Time { return time.Now() }

// echoServer accepts mTLS connections on loopback and echoes lines,
// prefixed with the client's certificate name.
func echoServer(t *testing.T, id *Identity) net.Listener {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", id.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				who := tc.ConnectionState().PeerCertificates[0].Subject.CommonName
				r := bufio.NewScanner(c)
				for r.Scan() {
					fmt.Fprintf(c, "%s:%s\n", who, r.Text())
				}
			}()
		}
	}()
	return ln
}

func dial(ln net.Listener, id *Identity, server string) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), id.ClientConfig(server))
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, c.Handshake()
}

func roundTrip(c *tls.Conn, msg string) (string, error) {
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestMutualTLS(t *testing.T) {
	ca := must(NewCA("ca-1", time.Hour, clock))
	server := NewIdentity(must(ca.Issue("n0", time.Hour)), clock, ca.Cert)
	client := NewIdentity(must(ca.Issue("n1", time.Hour)), clock, ca.Cert)
	ln := echoServer(t, server)
	c, err := dial(ln, client, "n0")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(c, "hi"); err != nil || got != "n1:hi" {
		t.Fatalf("echo %q, %v", got, err)
	}
	c.Close()

	// A client with a certificate from another CA is refused.
	rogue := must(NewCA("rogue", time.Hour, clock))
	mallory := NewIdentity(must(rogue.Issue("n1", time.Hour)), clock, ca.Cert)
	if c, err := dial(ln, mallory, "n0"); err == nil {
		if _, err := roundTrip(c, "hi"); err == nil {
			t.Fatal("a certificate from an untrusted CA was accepted")
		}
	}
	// The server must be the node the client asked for.
	if _, err := dial(ln, client, "n2"); err == nil {
		t.Fatal("connected to n0 while asking for n2")
	}
	// An expired certificate is refused.
	old := must(NewCA("ca-1", time.Hour, func() time.Time { return time.Now().Add(-2 * time.Hour) }))
	server.SetTrusted(ca.Cert, old.Cert)
	stale := NewIdentity(must(old.Issue("n1", time.Minute)), clock, ca.Cert)
	if c, err := dial(ln, stale, "n0"); err == nil {
		if _, err := roundTrip(c, "hi"); err == nil {
			t.Fatal("an expired certificate was accepted")
		}
	}
}

// TestRotationWithoutDowntime keeps one connection open and opens a new
// one after every step of a leaf rotation and then a CA rotation (bundle
// old+new, re-issue everything from the new CA, drop the old CA): every
// exchange succeeds, and at the end a certificate of the old CA is
// refused.
func TestRotationWithoutDowntime(t *testing.T) {
	ca1 := must(NewCA("ca-1", time.Hour, clock))
	server := NewIdentity(must(ca1.Issue("n0", time.Hour)), clock, ca1.Cert)
	client := NewIdentity(must(ca1.Issue("n1", time.Hour)), clock, ca1.Cert)
	ln := echoServer(t, server)
	long, err := dial(ln, client, "n0")
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	ca2 := must(NewCA("ca-2", time.Hour, clock))
	steps := []struct {
		name string
		do   func()
	}{
		{"re-issue leaves", func() {
			server.SetCertificate(must(ca1.Issue("n0", time.Hour)))
			client.SetCertificate(must(ca1.Issue("n1", time.Hour)))
		}},
		{"trust both CAs", func() { server.SetTrusted(ca1.Cert, ca2.Cert); client.SetTrusted(ca1.Cert, ca2.Cert) }},
		{"server on the new CA", func() { server.SetCertificate(must(ca2.Issue("n0", time.Hour))) }},
		{"client on the new CA", func() { client.SetCertificate(must(ca2.Issue("n1", time.Hour))) }},
		{"drop the old CA", func() { server.SetTrusted(ca2.Cert); client.SetTrusted(ca2.Cert) }},
	}
	for i, s := range steps {
		s.do()
		if got, err := roundTrip(long, fmt.Sprint("long-", i)); err != nil || got != fmt.Sprintf("n1:long-%d", i) {
			t.Fatalf("after %q the open connection failed: %q, %v", s.name, got, err)
		}
		c, err := dial(ln, client, "n0")
		if err != nil {
			t.Fatalf("after %q a new connection failed: %v", s.name, err)
		}
		if got, err := roundTrip(c, "new"); err != nil || got != "n1:new" {
			t.Fatalf("after %q: %q, %v", s.name, got, err)
		}
		c.Close()
	}
	leftover := NewIdentity(must(ca1.Issue("n1", time.Hour)), clock, ca2.Cert)
	if c, err := dial(ln, leftover, "n0"); err == nil {
		if _, err := roundTrip(c, "x"); err == nil {
			t.Fatal("a certificate of the retired CA was accepted")
		}
	}
}

func TestParseCertificatePEM(t *testing.T) {
	ca := must(NewCA("ca", time.Hour, clock))
	leaf := must(ca.Issue("n3", time.Hour))
	p := EncodePEM(leaf.Leaf)
	c, err := ParseCertificatePEM(p)
	if err != nil || c.Subject.CommonName != "n3" {
		t.Fatalf("%v %v", c, err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool(ca.Cert), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"empty": nil, "two blocks": append(append([]byte{}, p...), p...),
		"key block":   []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"garbage der": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
	} {
		if _, err := ParseCertificatePEM(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func pool(cs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c)
	}
	return p
}

// FuzzParseCertificatePEM: arbitrary bytes never panic, and whatever
// parses re-encodes to a PEM that parses to the same certificate.
func FuzzParseCertificatePEM(f *testing.F) {
	ca := must(NewCA("ca", time.Hour, clock))
	f.Add(EncodePEM(ca.Cert))
	f.Add(EncodePEM(must(ca.Issue("n1", time.Hour)).Leaf))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCertificatePEM(data)
		if err != nil {
			return
		}
		again, err := ParseCertificatePEM(EncodePEM(c))
		if err != nil || !again.Equal(c) {
			t.Fatalf("re-encoded certificate differs: %v", err)
		}
	})
}
