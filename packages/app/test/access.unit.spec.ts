import { commandCatalog, commandVisibility, type Identity, type Role, roles } from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import { authorize } from '../src/access.js';

const as = (role: Role): Identity => ({ actor: `a-${role}`, role });
const allowed = (role: Role, type: string) => {
  try {
    authorize(as(role), { kind: 'command', type });
    return true;
  } catch (err) {
    expect((err as { code: string }).code).toBe('FORBIDDEN');
    return false;
  }
};

describe('access policy', () => {
  it('gives every command in the catalogue a visibility, and nothing else', () => {
    expect(Object.keys(commandVisibility).sort()).toEqual(Object.keys(commandCatalog).sort());
  });

  it('lets operators send public commands only, services internal ones only, admins all, readers none', () => {
    for (const [type, visibility] of Object.entries(commandVisibility)) {
      expect(allowed('reader', type), `reader ${type}`).toBe(false);
      expect(allowed('operator', type), `operator ${type}`).toBe(visibility === 'public');
      expect(allowed('service', type), `service ${type}`).toBe(visibility === 'internal');
      expect(allowed('admin', type), `admin ${type}`).toBe(true);
    }
    expect(commandVisibility.CompleteWorkflowStep).toBe('internal');
    expect(commandVisibility.RequestWorkflowRun).toBe('public');
  });

  it('lets every role read and subscribe, and only admins run operations', () => {
    for (const role of roles) {
      expect(() => authorize(as(role), { kind: 'read' })).not.toThrow();
      expect(() => authorize(as(role), { kind: 'subscribe' })).not.toThrow();
      const admin = () => authorize(as(role), { kind: 'admin', operation: 'rebuild a projection' });
      if (role === 'admin') expect(admin).not.toThrow();
      else expect(admin).toThrow(/may not rebuild a projection/);
    }
  });
});
