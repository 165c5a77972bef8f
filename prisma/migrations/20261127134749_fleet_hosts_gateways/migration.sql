-- CreateTable
CREATE TABLE "GatewayNode" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "url" TEXT NOT NULL,
    "sessions" INTEGER NOT NULL DEFAULT 0,
    "lastHeartbeatAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_HypervisorHost" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "memoryBudgetMiB" INTEGER NOT NULL DEFAULT 0,
    "memoryUsedMiB" INTEGER NOT NULL DEFAULT 0,
    "cores" INTEGER NOT NULL DEFAULT 0,
    "domains" INTEGER NOT NULL DEFAULT 0,
    "running" INTEGER NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL DEFAULT 'unknown',
    "lastHeartbeatAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "load" REAL NOT NULL DEFAULT 0,
    "standby" TEXT NOT NULL DEFAULT '',
    "draining" BOOLEAN NOT NULL DEFAULT false
);
INSERT INTO "new_HypervisorHost" ("cores", "createdAt", "domains", "id", "lastHeartbeatAt", "memoryBudgetMiB", "memoryUsedMiB", "name", "running", "status", "url") SELECT "cores", "createdAt", "domains", "id", "lastHeartbeatAt", "memoryBudgetMiB", "memoryUsedMiB", "name", "running", "status", "url" FROM "HypervisorHost";
DROP TABLE "HypervisorHost";
ALTER TABLE "new_HypervisorHost" RENAME TO "HypervisorHost";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

