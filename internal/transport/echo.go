package transport

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.opentelemetry.io/otel/trace"
)

// The pieces that fit what every request gets (above) into Echo's stock middleware.

// Track is Echo's first middleware. It carries the request's RequestInfo in its context and sets
// Cache-Control: no-store (Echo's Secure has no setting for it). Once the request has been
// answered and logged (RequestLogger handles the chain's error), it cuts the connection of a
// request whose client went away or whose response was cut off: net/http then closes it without
// ending the response, so that a client still reading sees a broken response, never a short one
// that looks whole.
func Track(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h["Cache-Control"] = noStore
		r, info := withInfo(c.Request(), h)
		c.SetRequest(r)
		_ = next(c) // answered and logged by RequestLogger (HandleError)
		if info.Abandoned || info.Aborted {
			panic(http.ErrAbortHandler)
		}
		return nil
	}
}

// TraceID records the trace id of the request's span (otelecho's, before it) in its RequestInfo,
// for the request log line.
func TraceID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			Info(ctx).TraceID = sc.TraceID().String()
		}
		return next(c)
	}
}

// RequestIDConfig is Echo's RequestID with our ids: the caller's only when it is sane, else a new
// one (Echo's takes any caller's id, and it goes into log lines and headers).
func RequestIDConfig() middleware.RequestIDConfig {
	return middleware.RequestIDConfig{
		Generator: newRequestID,
		RequestIDHandler: func(c echo.Context, callers string) {
			id := requestID(callers)
			if id != callers {
				c.Response().Header()[HeaderRequestID] = []string{id}
			}
			Info(c.Request().Context()).ID = id
		},
	}
}

// RequestLoggerConfig is Echo's RequestLogger feeding the Recorder. It hands the chain's error to
// the error handler first, so that the status recorded is the one answered.
func RequestLoggerConfig(rec *Recorder) middleware.RequestLoggerConfig {
	return middleware.RequestLoggerConfig{
		HandleError:     true,
		LogStatus:       true,
		LogResponseSize: true,
		LogRoutePath:    true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			req := c.Request()
			rec.Record(req, Info(req.Context()), v.RoutePath, v.Status, v.ResponseSize, v.StartTime)
			return nil
		},
	}
}

// RecoverConfig is Echo's Recover handing a panic to Errors.Recovered, whose 500 problem goes on
// to RequestLogger (and so is logged and counted) rather than straight to the error handler.
func RecoverConfig(e *Errors) middleware.RecoverConfig {
	return middleware.RecoverConfig{
		StackSize:           64 << 10,
		DisableStackAll:     true,
		DisableErrorHandler: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			return e.Recovered(c.Request(), err, stack)
		},
	}
}
