package flags

import (
	"context"
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"
)

// Provider is the store as an OpenFeature provider. Flags are boolean;
// the subject is the evaluation context's targeting key. The reason says
// why: SPLIT for a rollout decision, DISABLED for a killed flag.
type Provider struct{ S *Store }

var _ openfeature.FeatureProvider = Provider{}

// Metadata names the provider.
func (Provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: "migrator-flags"} }

// Hooks: none.
func (Provider) Hooks() []openfeature.Hook { return nil }

// BooleanEvaluation resolves a flag for the context's targeting key.
func (p Provider) BooleanEvaluation(_ context.Context, flag string, def bool, fc openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	f, ok := p.S.Get(flag)
	if !ok {
		return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewFlagNotFoundResolutionError(fmt.Sprintf("no flag %q", flag)), Reason: openfeature.ErrorReason}}
	}
	if f.Killed {
		return openfeature.BoolResolutionDetail{Value: false, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
			Reason: openfeature.DisabledReason, Variant: "off"}}
	}
	key, _ := fc[openfeature.TargetingKey].(string)
	if key == "" {
		return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewTargetingKeyMissingResolutionError("a rollout needs a targeting key"), Reason: openfeature.ErrorReason}}
	}
	on := f.on(flag, key)
	variant := "off"
	if on {
		variant = "on"
	}
	return openfeature.BoolResolutionDetail{Value: on, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
		Reason: openfeature.SplitReason, Variant: variant}}
}

func mismatch(flag string) openfeature.ProviderResolutionDetail {
	return openfeature.ProviderResolutionDetail{Reason: openfeature.ErrorReason,
		ResolutionError: openfeature.NewTypeMismatchResolutionError(fmt.Sprintf("flag %q is boolean", flag))}
}

// StringEvaluation: flags are boolean.
func (Provider) StringEvaluation(_ context.Context, flag string, def string, _ openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(flag)}
}

// FloatEvaluation: flags are boolean.
func (Provider) FloatEvaluation(_ context.Context, flag string, def float64, _ openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(flag)}
}

// IntEvaluation: flags are boolean.
func (Provider) IntEvaluation(_ context.Context, flag string, def int64, _ openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(flag)}
}

// ObjectEvaluation: flags are boolean.
func (Provider) ObjectEvaluation(_ context.Context, flag string, def any, _ openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: mismatch(flag)}
}
