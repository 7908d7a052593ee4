import { useState } from 'preact/hooks';
import { loadApiKey, saveApiKey } from './store.ts';

/** The API key, entered once and kept in this browser; every request sends it as `Authorization: Bearer`. */
export function ApiKeyControl() {
  const [saved, setSaved] = useState(() => loadApiKey() !== null);
  const [value, setValue] = useState('');
  const [note, setNote] = useState('');
  return (
    <details class="api-key">
      <summary>
        API key <span class="api-key-state">{saved ? '(saved)' : '(none)'}</span>
      </summary>
      <form
        class="api-key-form"
        onSubmit={(event) => {
          event.preventDefault();
          const key = value.trim();
          if (!key) return setNote('Enter a key first.');
          saveApiKey(key);
          setSaved(true);
          setValue('');
          setNote('Saved in this browser. Every request now sends it.');
        }}
      >
        <label for="api-key-input">API key</label>
        <input id="api-key-input" type="password" autocomplete="off" spellcheck={false} value={value} onInput={(event) => setValue(event.currentTarget.value)} aria-describedby="api-key-note" />
        <div class="row">
          <button type="submit">Save key</button>
          <button
            type="button"
            class="secondary"
            disabled={!saved}
            onClick={() => {
              saveApiKey(null);
              setSaved(false);
              setNote('Forgotten: requests go without a key.');
            }}
          >
            Forget key
          </button>
        </div>
        <p id="api-key-note" class="hint" aria-live="polite">
          {note || 'Needed only when the server asks for one. Kept in this browser (localStorage), never shown again.'}
        </p>
      </form>
    </details>
  );
}
