-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Group" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "requireTotp" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "clipboardToVm" BOOLEAN NOT NULL DEFAULT true,
    "clipboardFromVm" BOOLEAN NOT NULL DEFAULT true,
    "clipboardMaxBytes" INTEGER NOT NULL DEFAULT 262144,
    "uploadEnabled" BOOLEAN NOT NULL DEFAULT true,
    "uploadMaxBytes" INTEGER NOT NULL DEFAULT 67108864,
    "downloadEnabled" BOOLEAN NOT NULL DEFAULT true,
    "downloadMaxBytes" INTEGER NOT NULL DEFAULT 67108864,
    "recording" BOOLEAN NOT NULL DEFAULT false,
    "watermark" BOOLEAN NOT NULL DEFAULT false,
    "idleTimeoutMinutes" INTEGER NOT NULL DEFAULT 0,
    "maxSessionMinutes" INTEGER NOT NULL DEFAULT 0,
    "allowedAppliances" TEXT NOT NULL DEFAULT ''
);
INSERT INTO "new_Group" ("createdAt", "id", "name", "requireTotp", "updatedAt") SELECT "createdAt", "id", "name", "requireTotp", "updatedAt" FROM "Group";
DROP TABLE "Group";
ALTER TABLE "new_Group" RENAME TO "Group";
CREATE UNIQUE INDEX "Group_name_key" ON "Group"("name");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

