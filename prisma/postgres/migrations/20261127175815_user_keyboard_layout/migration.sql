-- AlterTable
ALTER TABLE "User" ADD COLUMN     "keyboardLayout" TEXT NOT NULL DEFAULT 'us';

