package templateadmin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
)

// DefaultRefresh is how often DBTexts asks PostgreSQL whether anything
// changed: an approval reaches the next message within about this long.
const DefaultRefresh = 2 * time.Second

// DBTexts is the outreach.Texts of a running gateway: the live approved
// version of each template, or the version the message's campaign pins
// (see outreach.WithCampaign). A draft, pending or rejected version is
// never returned: live_version is set only by approval, and pins may only
// name approved versions.
//
// It keeps every live body in memory. Every Refresh it reads one counter
// (store.TemplateGeneration, bumped in the same transaction as every
// approval and pin change) and reloads only when it moved, so the cost is
// one tiny query every two seconds per process. When the database cannot
// be read it keeps serving what it last loaded and logs the error.
type DBTexts struct {
	store   *store.Store
	refresh time.Duration
	logger  *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	loaded  bool
	checked time.Time
	gen     int64
	live    map[store.TemplateRef]string
	pins    map[int64]map[string]int

	pinned sync.Map // "key:channel:language#version" -> body; versions never change
}

var _ outreach.Texts = (*DBTexts)(nil)

// NewDBTexts returns texts read from st, checked for changes every
// refresh (DefaultRefresh when 0).
func NewDBTexts(st *store.Store, refresh time.Duration, logger *slog.Logger) *DBTexts {
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &DBTexts{store: st, refresh: refresh, logger: logger, now: time.Now}
}

// ErrNoText is matched by the error Body returns for a key with no
// approved text in the language or in English.
var ErrNoText = outreach.ErrNoText

// Body returns the text to send for key on channel in language, and its
// language: English when the language has no approved text.
func (d *DBTexts) Body(ctx context.Context, channel, key, language string) (string, string, error) {
	live, pins, err := d.snapshot(ctx)
	if err != nil {
		return "", "", err
	}
	var campaignPins map[string]int
	if id, ok := outreach.CampaignFrom(ctx); ok {
		campaignPins = pins[id]
	}
	langs := []string{language}
	if language != "en" {
		langs = append(langs, "en")
	}
	for _, lang := range langs {
		ref := store.TemplateRef{Key: key, Channel: channel, Language: lang}
		if v, ok := campaignPins[ref.PinKey()]; ok {
			body, err := d.pinnedBody(ctx, ref, v)
			return body, lang, err
		}
		if body, ok := live[ref]; ok {
			return body, lang, nil
		}
	}
	return "", "", fmt.Errorf("%s text for %q in %q: %w", channel, key, language, ErrNoText)
}

func (d *DBTexts) pinnedBody(ctx context.Context, ref store.TemplateRef, version int) (string, error) {
	k := fmt.Sprintf("%s#%d", ref.PinKey(), version)
	if b, ok := d.pinned.Load(k); ok {
		return b.(string), nil
	}
	body, err := d.store.ApprovedTemplateBody(ctx, ref, version)
	if err != nil {
		return "", fmt.Errorf("pinned template: %w", err)
	}
	d.pinned.Store(k, body)
	return body, nil
}

// Invalidate reloads at once; the service calls it after an approval in
// the same process, so the approval shows in the next message here.
func (d *DBTexts) Invalidate() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.reload(ctx); err != nil {
		d.logger.Error("could not reload templates after a change", "error", err)
		d.checked = time.Time{}
		return
	}
	d.checked = d.now()
}

// Load reads the templates now. The gateway calls it at start, so the
// first message does not wait for it.
func (d *DBTexts) Load(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.reload(ctx); err != nil {
		return fmt.Errorf("load templates: %w", err)
	}
	d.checked = d.now()
	return nil
}

// snapshot returns the loaded templates, checking for changes every
// refresh. Body runs while a webhook holds a database connection, so the
// check reads through the store's reserved connections (never the main
// pool, which a burst may have used up).
func (d *DBTexts) snapshot(ctx context.Context) (map[store.TemplateRef]string, map[int64]map[string]int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if d.loaded && now.Sub(d.checked) < d.refresh {
		return d.live, d.pins, nil
	}
	if err := d.reload(ctx); err != nil {
		if !d.loaded {
			return nil, nil, fmt.Errorf("load templates: %w", err)
		}
		d.logger.Error("could not refresh templates; sending the last loaded", "error", err)
	}
	d.checked = now
	return d.live, d.pins, nil
}

func (d *DBTexts) reload(ctx context.Context) error {
	if d.loaded {
		gen, err := d.store.TemplateGeneration(ctx)
		if err != nil {
			return err
		}
		if gen == d.gen {
			return nil
		}
	}
	gen, live, err := d.store.LiveTemplates(ctx)
	if err != nil {
		return err
	}
	pins, err := d.store.AllCampaignTemplatePins(ctx)
	if err != nil {
		return err
	}
	// Pinned bodies are read now too, so sending never has to.
	for _, byKey := range pins {
		for pk, v := range byKey {
			ref, err := store.ParsePinKey(pk)
			if err != nil {
				continue
			}
			k := fmt.Sprintf("%s#%d", pk, v)
			if _, ok := d.pinned.Load(k); ok {
				continue
			}
			if body, err := d.store.ApprovedTemplateBody(ctx, ref, v); err == nil {
				d.pinned.Store(k, body)
			}
		}
	}
	if d.loaded {
		d.logger.Info("templates reloaded", "generation", gen, "live", len(live))
	}
	d.gen, d.live, d.pins, d.loaded = gen, live, pins, true
	return nil
}
