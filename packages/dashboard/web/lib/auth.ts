/** The token lives in sessionStorage only: it goes when the tab closes and is never written elsewhere. */
const key = 'lightdom.token';

export const readToken = (): string | null => sessionStorage.getItem(key);
export const saveToken = (token: string) => sessionStorage.setItem(key, token);
export const clearToken = () => sessionStorage.removeItem(key);
