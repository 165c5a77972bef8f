-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_User" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'user',
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "maxVms" INTEGER NOT NULL DEFAULT 2,
    "maxMemoryMiB" INTEGER NOT NULL DEFAULT 1024,
    "keyboardLayout" TEXT NOT NULL DEFAULT 'us',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "lastLoginAt" DATETIME,
    "totpSecret" TEXT,
    "totpEnabledAt" DATETIME,
    "totpLastStep" INTEGER
);
INSERT INTO "new_User" ("createdAt", "disabled", "email", "id", "lastLoginAt", "maxMemoryMiB", "maxVms", "name", "passwordHash", "role", "totpEnabledAt", "totpLastStep", "totpSecret", "updatedAt") SELECT "createdAt", "disabled", "email", "id", "lastLoginAt", "maxMemoryMiB", "maxVms", "name", "passwordHash", "role", "totpEnabledAt", "totpLastStep", "totpSecret", "updatedAt" FROM "User";
DROP TABLE "User";
ALTER TABLE "new_User" RENAME TO "User";
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

