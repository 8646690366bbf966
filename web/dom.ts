// The page's element lookup, shared by its modules.

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
