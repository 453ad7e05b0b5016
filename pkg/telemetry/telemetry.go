// Package telemetry sets up OpenTelemetry tracing. It is a no-op unless OTEL_* variables
// ask for an exporter: OTEL_TRACES_EXPORTER=otlp (or any OTEL_EXPORTER_OTLP_*ENDPOINT)
// exports over OTLP/HTTP, OTEL_TRACES_EXPORTER=console prints spans to stderr.
package telemetry

import (
	"context"
	"errors"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Setup installs the W3C trace-context propagator and, when the environment asks for one,
// a tracer provider with an exporter. The returned function flushes and stops it.
func Setup(ctx context.Context, serviceName string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	noop := func(context.Context) error { return nil }
	var exp sdktrace.SpanExporter
	switch kind := os.Getenv("OTEL_TRACES_EXPORTER"); {
	case kind == "console":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(os.Stderr))
	case kind == "otlp", kind == "" && (os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""):
		exp, err = otlptracehttp.New(ctx)
	default:
		return noop, nil
	}
	if err != nil {
		return noop, err
	}
	name := os.Getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = serviceName
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(name)))
	if err != nil {
		return noop, errors.Join(err, exp.Shutdown(ctx))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}
