import { AppShell, Badge, Button, Group, NavLink, Title } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { setUnauthorizedHandler } from './lib/api';
import { clearToken, readToken } from './lib/auth';
import { LiveFeedProvider, useFeedState, useIdentity } from './lib/live';
import { href, useRoute } from './lib/router';
import { AiTaskPage, AiTasksPage } from './pages/AiTasks';
import { AuditPage } from './pages/Audit';
import { CampaignPage } from './pages/CampaignPage';
import { CampaignsPage } from './pages/Campaigns';
import { OverviewPage } from './pages/Overview';
import { RunPage, RunsPage } from './pages/Runs';
import { SchedulesPage } from './pages/Schedules';
import { SignInPage } from './pages/SignIn';
import { WorkflowPage, WorkflowsPage } from './pages/Workflows';

const sections = [
  ['', 'Overview'],
  ['campaigns', 'Campaigns'],
  ['workflows', 'Workflows'],
  ['runs', 'Runs'],
  ['schedules', 'Schedules'],
  ['ai-tasks', 'AI tasks'],
  ['audit', 'Audit'],
] as const;

/** No page renders, and nothing is fetched, without a token. */
export function App() {
  const [token, setToken] = useState(readToken);
  const [signInError, setSignInError] = useState<string | null>(null);
  const client = useQueryClient();
  useEffect(
    () =>
      setUnauthorizedHandler(() => {
        client.clear();
        setSignInError('The API no longer accepts this token. Sign in again.');
        setToken(null);
      }),
    [client],
  );
  if (!token) {
    return (
      <SignInPage
        initialError={signInError}
        onSignedIn={(t) => {
          setSignInError(null);
          setToken(t);
        }}
      />
    );
  }
  return (
    <LiveFeedProvider token={token}>
      <Shell
        onSignOut={() => {
          clearToken();
          client.clear();
          setToken(null);
        }}
      />
    </LiveFeedProvider>
  );
}

function FeedBadge() {
  const state = useFeedState();
  const color = { live: 'green', connecting: 'gray', reconnecting: 'orange', unauthorized: 'red' }[state];
  const label = {
    live: 'live',
    connecting: 'connecting…',
    reconnecting: 'reconnecting…',
    unauthorized: 'feed refused',
  }[state];
  return (
    <Badge color={color} variant="light" role="status" aria-live="polite" data-testid="feed-state" data-state={state}>
      Feed {label}
    </Badge>
  );
}

/** Who is signed in, as the API's feed said; the role decides which buttons a page shows. */
function IdentityBadge() {
  const identity = useIdentity();
  if (!identity) return null;
  return (
    <Badge variant="outline" color="gray" data-testid="identity" data-role={identity.role ?? 'unknown'}>
      {identity.actor ?? 'signed in'} · {identity.role ?? 'role not said'}
    </Badge>
  );
}

function Shell({ onSignOut }: { onSignOut(): void }) {
  const [section = '', id, extra] = useRoute();
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 200, breakpoint: 'sm' }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Title order={3}>LightDom</Title>
          <Group>
            <IdentityBadge />
            <FeedBadge />
            <Button variant="subtle" onClick={onSignOut}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Sections">
        {sections.map(([path, label]) => (
          <NavLink
            key={path}
            href={href(...(path ? [path] : []))}
            label={label}
            active={section === path}
            aria-current={section === path ? 'page' : undefined}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Page section={section} id={id} extra={extra} />
      </AppShell.Main>
    </AppShell>
  );
}

function Page({ section, id, extra }: { section: string; id: string | undefined; extra: string | undefined }) {
  switch (section) {
    case 'campaigns':
      return id ? <CampaignPage id={id} {...(extra ? { after: extra } : {})} /> : <CampaignsPage />;
    case 'workflows':
      return id ? <WorkflowPage id={id} /> : <WorkflowsPage />;
    case 'runs':
      return id ? <RunPage id={id} /> : <RunsPage />;
    case 'ai-tasks':
      return id ? <AiTaskPage id={id} /> : <AiTasksPage />;
    case 'schedules':
      return <SchedulesPage />;
    case 'audit':
      return <AuditPage />;
    default:
      return <OverviewPage />;
  }
}
