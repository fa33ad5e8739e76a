package convert

import (
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
)

// Token is a token's metadata as the API shows it (never its value, which is not stored).
func Token(t token.Token) api.Token {
	scopes := make([]api.Scope, len(t.Scopes))
	for i, sc := range t.Scopes {
		scopes[i] = api.Scope(sc)
	}
	return api.Token{Id: t.ID, EnterpriseId: t.EnterpriseID, Prefix: t.Prefix, Scopes: scopes, Note: t.Note,
		CreatedAt: t.CreatedAt, ExpiresAt: nullableTime(t.ExpiresAt), LastUsedAt: nullableTime(t.LastUsedAt),
		RevokedAt: nullableTime(t.RevokedAt)}
}

// TokenCreated is a new token as its creator sees it, the only time: with its value.
func TokenCreated(t token.Token, secret string) api.TokenCreated {
	m := Token(t)
	return api.TokenCreated{Id: m.Id, EnterpriseId: m.EnterpriseId, Prefix: m.Prefix, Scopes: m.Scopes, Note: m.Note,
		CreatedAt: m.CreatedAt, ExpiresAt: m.ExpiresAt, LastUsedAt: m.LastUsedAt, RevokedAt: m.RevokedAt, Token: secret}
}

// Scopes are the API's scopes as the domain's.
func Scopes(scopes []api.Scope) []token.Scope {
	out := make([]token.Scope, len(scopes))
	for i, sc := range scopes {
		out[i] = token.Scope(sc)
	}
	return out
}

func nullableTime(t *time.Time) nullable.Nullable[time.Time] {
	if t == nil {
		return nullable.NewNullNullable[time.Time]()
	}
	return nullable.NewNullableWithValue(*t)
}

// AuditEvent is an audit event as the API shows it.
func AuditEvent(e store.AuditEvent) api.AuditEvent {
	fields := e.ChangedFields
	if fields == nil {
		fields = []string{}
	}
	ev := api.AuditEvent{Id: e.ID, Time: e.Time, EnterpriseId: e.EnterpriseID, TokenId: e.TokenID,
		Operation: api.AuditEventOperation(e.Operation), TargetId: e.TargetID, ChangedFields: fields, RequestId: e.RequestID}
	if len(e.Warnings) > 0 {
		ev.Warnings = &e.Warnings
	}
	return ev
}
