import { z } from 'zod';

/** Amounts carry at most two decimals; arithmetic happens in minor units. */
export const amountSchema = z
  .number({ invalid_type_error: 'must be a number' })
  .finite()
  .nonnegative()
  .max(1e12)
  .refine((n) => Math.abs(Math.round(n * 100) - n * 100) < 1e-6, 'must have at most 2 decimals');

export const currencySchema = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO-4217 code like EUR');

export const moneySchema = z.object({ amount: amountSchema, currency: currencySchema }).strict();
export type Money = z.infer<typeof moneySchema>;

export const toMinor = (amount: number): number => Math.round(amount * 100);
export const fromMinor = (minor: number): number => minor / 100;
export const addAmounts = (a: number, b: number): number => fromMinor(toMinor(a) + toMinor(b));
