import { useEffect, useRef, useState } from 'preact/hooks';
import { loadApiKey, saveApiKey } from './store.ts';

interface ApiKeyProps {
  /** The server refused a request for want of a (valid) key: the control opens and asks for one. */
  asked: boolean;
  /** A key was saved or forgotten: the page reads the API again. */
  onChange: () => void;
}

/** The API key, entered once and kept in this browser; every request sends it as `Authorization: Bearer`. */
export function ApiKeyControl({ asked, onChange }: ApiKeyProps) {
  const [saved, setSaved] = useState(() => loadApiKey() !== null);
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState('');
  const [note, setNote] = useState('');
  const inputRef = useRef<HTMLInputElement | null>(null);

  // Asked by the server: open and offer the field (without stealing the focus from what the person is doing).
  useEffect(() => {
    if (asked) setOpen(true);
  }, [asked]);

  return (
    <details class={`api-key${asked ? ' asked' : ''}`} open={open} onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>
        API key <span class="api-key-state">{asked ? '(needed)' : saved ? '(saved)' : '(none)'}</span>
      </summary>
      <form
        class="api-key-form"
        onSubmit={(event) => {
          event.preventDefault();
          const key = value.trim();
          if (!key) {
            setNote('Enter a key first.');
            inputRef.current?.focus();
            return;
          }
          saveApiKey(key);
          setSaved(true);
          setValue('');
          setNote('Saved in this browser. Every request now sends it.');
          onChange();
        }}
      >
        <label for="api-key-input">API key</label>
        <input id="api-key-input" ref={inputRef} type="password" autocomplete="off" spellcheck={false} value={value} onInput={(event) => setValue(event.currentTarget.value)} aria-describedby="api-key-note" />
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
              onChange();
            }}
          >
            Forget key
          </button>
        </div>
        <p id="api-key-note" class="hint" aria-live="polite">
          {note ||
            (asked
              ? 'This Curator asks for an API key (whoever runs it makes one with curator keys create). It is kept in this browser (localStorage), never shown again.'
              : 'Needed only when the server asks for one. Kept in this browser (localStorage), never shown again.')}
        </p>
      </form>
    </details>
  );
}
