/** The repository's root directory. */
export declare const REPO_ROOT: string;
/** Loads the repository's .env once; variables already set in the environment win. */
export declare function loadRootEnv(): void;
/** A path from a setting: `~/` is the home directory, relative paths start at the repository. */
export declare function resolveRepoPath(value: string): string;
