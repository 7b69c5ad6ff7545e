// raftstore from Go: a stock gRPC client generated from ../../proto alone (protoc-gen-go and
// protoc-gen-go-grpc; no raftstore library): put, get, compare-and-set, result codes,
// leader hints.
//
//	examples/go/run.sh [host:port ...]   (default: $RAFTSTORE_HOSTS or 127.0.0.1:3000)
//
// run.sh generates the Go code of proto/ into a GOPATH outside the repository and builds
// this file offline against Debian's Go sources (scripts/install_toolchains.sh go); with network
// access, `go mod init` plus protoc with the same plugins works as well.
// RAFTSTORE_EXAMPLE_KEY sets the user key (default: a fresh one per run).
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	pb "github.com/raftstore/raftstore/gen/go/raftstore/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	namespace = "test"
	setName   = "examples"
	maxHops   = 5 // leader hints followed per call before giving up
)

// Error is a failed call: the raftstore result code and the gRPC status it came with.
type Error struct {
	Code    pb.ResultCode // -1 when the status did not come from raftstore
	Status  string        // gRPC status name
	Message string
	InDoubt bool   // a write may have been applied
	Leader  string // "<node id>=<client address>" of the partition's leader, when known
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%d) %s: %s", e.Name(), int32(e.Code), e.Status, e.Message)
}

// Name is the result code's name without the enum prefix ("KEY_NOT_FOUND").
func (e *Error) Name() string {
	if e.Code < 0 {
		return "CLIENT_ERROR"
	}
	return strings.TrimPrefix(e.Code.String(), "RESULT_CODE_")
}

// statusName is a gRPC status code's canonical name ("FAILED_PRECONDITION"), as in the
// gRPC specification and proto/README.md; Go's String() spells it "FailedPrecondition".
func statusName(code codes.Code) string {
	if code == codes.OK {
		return "OK"
	}
	var b strings.Builder
	for i, r := range code.String() {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func newError(err error, trailer metadata.MD) *Error {
	st := status.Convert(err)
	out := &Error{Code: -1, Status: statusName(st.Code()), Message: st.Message()}
	if v := trailer.Get("raftstore-result-code"); len(v) > 0 {
		if n, convErr := strconv.Atoi(v[0]); convErr == nil {
			out.Code = pb.ResultCode(n)
		}
	}
	out.InDoubt = len(trailer.Get("raftstore-in-doubt")) > 0 && trailer.Get("raftstore-in-doubt")[0] == "1"
	if v := trailer.Get("raftstore-leader"); len(v) > 0 {
		out.Leader = v[0]
	}
	return out
}

// Client sends each command with header.no_forward to the node it believes leads, and
// follows the raftstore-leader hint of a PARTITION_UNAVAILABLE answer: the first node
// can be any node of the cluster.
type Client struct {
	address string
	conns   map[string]*grpc.ClientConn
}

func (c *Client) kv(address string) (pb.KVClient, error) {
	conn, ok := c.conns[address]
	if !ok {
		var err error
		if conn, err = grpc.Dial(address, grpc.WithInsecure()); err != nil {
			return nil, err
		}
		c.conns[address] = conn
	}
	return pb.NewKVClient(conn), nil
}

func (c *Client) Close() {
	for _, conn := range c.conns {
		conn.Close()
	}
}

// call runs one command; send issues it on a KV stub with the trailer option given.
func (c *Client) call(method string, send func(pb.KVClient, context.Context, grpc.CallOption) error) error {
	for hop := 0; ; hop++ {
		kv, err := c.kv(c.address)
		if err != nil {
			return err
		}
		var trailer metadata.MD
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = send(kv, ctx, grpc.Trailer(&trailer))
		cancel()
		if err == nil {
			return nil
		}
		rerr := newError(err, trailer)
		parts := strings.SplitN(rerr.Leader, "=", 2)
		if rerr.Code != pb.ResultCode_RESULT_CODE_PARTITION_UNAVAILABLE || len(parts) != 2 ||
			parts[1] == c.address || hop >= maxHops {
			return rerr
		}
		fmt.Printf("leader hint: %s %s -> %s (%s)\n", method, c.address, parts[1], parts[0])
		c.address = parts[1]
	}
}

var header = &pb.RequestHeader{NoForward: true}

func (c *Client) Put(key *pb.Key, bins map[string]*pb.Value, policy *pb.WritePolicy) (*pb.WriteResponse, error) {
	var resp *pb.WriteResponse
	err := c.call("Put", func(kv pb.KVClient, ctx context.Context, opt grpc.CallOption) (err error) {
		resp, err = kv.Put(ctx, &pb.PutRequest{Header: header, Key: key, Bins: bins, Policy: policy}, opt)
		return err
	})
	return resp, err
}

func (c *Client) Get(key *pb.Key) (*pb.Record, error) {
	var resp *pb.GetResponse
	err := c.call("Get", func(kv pb.KVClient, ctx context.Context, opt grpc.CallOption) (err error) {
		resp, err = kv.Get(ctx, &pb.GetRequest{Header: header, Key: key}, opt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.Record, nil
}

func (c *Client) Delete(key *pb.Key) error {
	return c.call("Delete", func(kv pb.KVClient, ctx context.Context, opt grpc.CallOption) error {
		_, err := kv.Delete(ctx, &pb.DeleteRequest{Header: header, Key: key}, opt)
		return err
	})
}

func key(ns, userKey string) *pb.Key {
	return &pb.Key{Namespace: ns, Set: setName, UserKey: &pb.Key_StringKey{StringKey: userKey}}
}

func str(s string) *pb.Value { return &pb.Value{Kind: &pb.Value_StringValue{StringValue: s}} }
func num(n int64) *pb.Value  { return &pb.Value{Kind: &pb.Value_IntValue{IntValue: n}} }

// partition of a digest (proto/README.md): first two bytes little-endian, low 12 bits.
func partition(digest []byte) int { return (int(digest[0]) | int(digest[1])<<8) & 4095 }

func show(bins map[string]*pb.Value) string {
	return fmt.Sprintf("name=%s visits=%d", bins["name"].GetStringValue(), bins["visits"].GetIntValue())
}

// expectError prints the result code of a call that must fail.
func expectError(label string, err error) error {
	var rerr *Error
	if !errors.As(err, &rerr) {
		return fmt.Errorf("%s: expected a raftstore error, got %v", label, err)
	}
	fmt.Printf("%s: %s (%d) %s\n", label, rerr.Name(), int32(rerr.Code), rerr.Status)
	return nil
}

func run(c *Client, userKey string) error {
	k := key(namespace, userKey)
	put, err := c.Put(k, map[string]*pb.Value{"name": str("Ada"), "visits": num(1)}, nil)
	if err != nil {
		return err
	}
	digest := put.Key.Digest
	fmt.Printf("put: key=%s generation=%d digest=%s partition=%d\n",
		userKey, put.Metadata.Generation, hex.EncodeToString(digest), partition(digest))

	rec, err := c.Get(k)
	if err != nil {
		return err
	}
	gen := rec.Metadata.Generation
	fmt.Printf("get: generation=%d %s\n", gen, show(rec.Bins))

	// Compare-and-set: write only if the generation is still the one read.
	cas := &pb.WritePolicy{GenerationPolicy: pb.GenerationPolicy_GENERATION_POLICY_EXPECT_GEN_EQUAL, Generation: gen}
	next, err := c.Put(k, map[string]*pb.Value{"visits": num(2)}, cas)
	if err != nil {
		return err
	}
	fmt.Printf("cas: generation %d -> %d\n", gen, next.Metadata.Generation)
	_, err = c.Put(k, map[string]*pb.Value{"visits": num(0)}, cas)
	if err = expectError("stale cas", err); err != nil {
		return err
	}
	if rec, err = c.Get(k); err != nil {
		return err
	}
	fmt.Printf("get: generation=%d %s\n", rec.Metadata.Generation, show(rec.Bins))

	_, err = c.Get(key(namespace, userKey+"-absent"))
	if err = expectError("get missing", err); err != nil {
		return err
	}
	_, err = c.Get(key("nosuchns", userKey))
	if err = expectError("get unknown namespace", err); err != nil {
		return err
	}
	if err = c.Delete(k); err != nil {
		return err
	}
	_, err = c.Get(k)
	return expectError("get deleted", err)
}

func main() {
	hosts := os.Args[1:]
	if len(hosts) == 0 {
		hosts = strings.Split(envOr("RAFTSTORE_HOSTS", "127.0.0.1:3000"), ",")
	}
	userKey := envOr("RAFTSTORE_EXAMPLE_KEY", fmt.Sprintf("go-%d-%d", os.Getpid(), time.Now().UnixNano()))
	c := &Client{address: hosts[0], conns: map[string]*grpc.ClientConn{}}
	defer c.Close()
	if err := run(c, userKey); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		c.Close()
		os.Exit(1)
	}
	fmt.Println("done")
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
