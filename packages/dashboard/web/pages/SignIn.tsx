import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { ApiError, request } from '../lib/api';
import { saveToken } from '../lib/auth';

/** Takes a token, checks it against the API, keeps it in sessionStorage for this tab only. */
export function SignInPage({
  onSignedIn,
  initialError,
}: {
  onSignedIn(token: string): void;
  initialError: string | null;
}) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(initialError);
  const [busy, setBusy] = useState(false);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await request('/api/stats', { token: token.trim() });
      saveToken(token.trim());
      onSignedIn(token.trim());
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'This token is not accepted by the API.'
          : `Cannot sign in: ${(err as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <Center h="100vh">
      <Paper withBorder p="xl" w={420} component="main">
        <form onSubmit={submit} aria-labelledby="signin-title">
          <Stack>
            <Title order={2} id="signin-title">
              Sign in to LightDom
            </Title>
            <Text size="sm" c="dimmed">
              Paste an API token (npm start prints a development one). It is kept for this browser tab only.
            </Text>
            <PasswordInput
              label="API token"
              value={token}
              onChange={(e) => setToken(e.currentTarget.value)}
              required
              autoFocus
              error={error ? ' ' : undefined}
            />
            {error && (
              <Alert color="red" role="alert" title="Sign-in failed" data-testid="signin-error">
                {error}
              </Alert>
            )}
            <Button type="submit" loading={busy}>
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
