package tracectx

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TestOtelInjectOursExtract: a span context injected by OpenTelemetry's
// W3C propagator continues through our parser with the same trace id,
// parent span id and sampled flag.
func TestOtelInjectOursExtract(t *testing.T) {
	for _, sampled := range []bool{true, false} {
		cfg := trace.SpanContextConfig{TraceID: trace.TraceID(NewTraceID()), SpanID: trace.SpanID(NewSpanID())}
		if sampled {
			cfg.TraceFlags = trace.FlagsSampled
		}
		sc := trace.NewSpanContext(cfg)
		ctx := trace.ContextWithSpanContext(context.Background(), sc)
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(ctx, carrier)
		got, err := Parse(carrier.Get("traceparent"))
		if err != nil {
			t.Fatal(err)
		}
		if trace.TraceID(got.TraceID) != sc.TraceID() || trace.SpanID(got.SpanID) != sc.SpanID() || got.Sampled() != sampled {
			t.Fatalf("otel %v injected %q, we read %+v", sc, carrier.Get("traceparent"), got)
		}
		// A hop through one of our nodes: the child keeps the trace.
		child := got.Child(NewSpanID())
		if trace.TraceID(child.TraceID) != sc.TraceID() {
			t.Fatal("child left the trace")
		}
	}
}

// TestOursInjectOtelExtract: a context we format is read by OpenTelemetry
// as a remote span context with the same ids and flag.
func TestOursInjectOtelExtract(t *testing.T) {
	for _, flags := range []byte{0, FlagSampled} {
		c := Context{TraceID: NewTraceID(), SpanID: NewSpanID(), Flags: flags}
		carrier := propagation.MapCarrier{"traceparent": c.Format()}
		sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier))
		if !sc.IsValid() || !sc.IsRemote() {
			t.Fatalf("otel could not read %q: %v", c.Format(), sc)
		}
		if sc.TraceID() != trace.TraceID(c.TraceID) || sc.SpanID() != trace.SpanID(c.SpanID) || sc.IsSampled() != c.Sampled() {
			t.Fatalf("we wrote %q, otel read %v", c.Format(), sc)
		}
	}
}

// TestRejectedByBoth: headers OpenTelemetry refuses, we refuse too.
func TestRejectedByBoth(t *testing.T) {
	for _, h := range []string{
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
	} {
		sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": h}))
		_, err := Parse(h)
		if sc.IsValid() || err == nil {
			t.Errorf("%q: otel valid=%v, ours err=%v; want both to refuse", h, sc.IsValid(), err)
		}
	}
}
