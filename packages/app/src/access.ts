import { commandVisibility, type Identity, LightdomError, mayIssue, mayRead, type Role } from '@lightdom/domain';

/** What a caller asks to do, as the access policy sees it. */
export type Action =
  | { kind: 'command'; type: string }
  | { kind: 'read' }
  | { kind: 'subscribe' }
  /** Operations on the system itself: projection rebuilds, audit export. */
  | { kind: 'admin'; operation: string };

const forbidden = (identity: Identity, what: string, allowed: Role[]) =>
  new LightdomError('FORBIDDEN', `${identity.actor} (role ${identity.role}) may not ${what}`, {
    details: { role: identity.role, allowedRoles: allowed },
  });

/**
 * Throws FORBIDDEN unless `identity` may do `action`. An unknown command type passes here:
 * the command handler answers it with UNKNOWN_COMMAND, which says more.
 */
export function authorize(identity: Identity, action: Action): void {
  switch (action.kind) {
    case 'read':
    case 'subscribe':
      if (!mayRead(identity.role)) throw forbidden(identity, action.kind, ['reader', 'operator', 'service', 'admin']);
      return;
    case 'admin':
      if (identity.role !== 'admin') throw forbidden(identity, action.operation, ['admin']);
      return;
    case 'command': {
      const visibility = Object.hasOwn(commandVisibility, action.type) ? commandVisibility[action.type] : undefined;
      if (visibility === undefined) return;
      if (mayIssue(identity.role, visibility)) return;
      const allowed: Role[] =
        visibility === 'public' ? ['operator', 'admin'] : visibility === 'internal' ? ['service', 'admin'] : ['admin'];
      throw forbidden(
        identity,
        `send ${action.type} (a${visibility === 'internal' ? 'n' : ''} ${visibility} command)`,
        allowed,
      );
    }
  }
}
