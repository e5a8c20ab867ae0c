/** Sign-in with a user of the gateway's site.yaml (POST /api/v1/auth/login). */
import { useState } from 'preact/hooks';
import { ApiError, login } from '../lib/api.js';
import { useI18n } from '../lib/hooks.js';

export function LoginPage() {
  const { t, lang, setLang } = useI18n();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login(name, password);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(t('login.failed'));
      else if (err instanceof ApiError && err.status === 429) setError(t('login.throttled', { s: err.retryAfterS ?? 60 }));
      else setError(t('login.error', { msg: err instanceof Error ? err.message : String(err) }));
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <form class="card login-card" onSubmit={submit} aria-describedby={error === undefined ? undefined : 'login-error'}>
        <h1>{t('app.title')}</h1>
        <h2>{t('login.title')}</h2>
        <label for="login-name">{t('login.name')}</label>
        <input id="login-name" name="username" autocomplete="username" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="login-password">{t('login.password')}</label>
        <input id="login-password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        {error === undefined ? null : (
          <p id="login-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="btn primary" disabled={busy}>
          {t('login.submit')}
        </button>
        <button type="button" class="btn ghost" lang={lang === 'en' ? 'zh-CN' : 'en'} aria-label={t('lang.switchLabel')} onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}>
          {t('lang.switch')}
        </button>
      </form>
    </main>
  );
}
